// Host names to numeric addresses for the layers that take `{ host, port }`.
import { isIP } from 'node:net';
import type { Loop } from './loop.js';

type HostPort = { host: string; port: number };

/**
 * `addr` with a numeric host: numeric hosts pass through; 'localhost' maps to the loopback of
 * `family` (IPv4 unless 6 is asked).
 */
export async function resolveHostPort(_loop: Loop, addr: HostPort, family: 0 | 4 | 6): Promise<HostPort> {
  if (typeof addr.host !== 'string' || isIP(addr.host) !== 0) return addr;
  if (addr.host === 'localhost') return { host: family === 6 ? '::1' : '127.0.0.1', port: addr.port };
  return addr;  // the socket's own address check refuses it with a clear message
}
