// Host names (DESIGN §6.4): getaddrinfo(3) on the addon's helper threads (native/resolver.cc),
// completed through the loop's own wake-up pipe (signals.ts), so a lookup finishes while run()
// owns the thread and while attached alike. Node's dns module cannot serve here: its callbacks
// run on Node's loop, which does not turn while run() blocks in the selector.
//
// A pending lookup keeps the loop alive as waiting I/O does (SignalTable.holdHelper; the wake
// pipe's reader alone does not count as work). A cancelled lookup (abort, timeout, loop.close())
// is forgotten natively at once: a thread already running it finishes and its result is dropped.
import { isIP } from 'node:net';
import type { Loop } from './loop.js';
import type { SignalTable } from './signals.js';
import { native } from './native.js';
import { errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { checkWaitOptions, WaitGuard, type WaitOptions } from './wait-options.js';
import type { HostPort } from './socket.js';

/** One address getaddrinfo gave for a name. */
export interface ResolvedAddress {
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
  /** Numeric address text. */
  host: string;
  /** The port given to getaddrinfo(), passed through. */
  port: number;
}

export interface LookupOptions extends WaitOptions {
  /** 4 or 6 for one family; 0 (the default) for both, in the system's preferred order. */
  family?: 0 | 4 | 6;
}

const C = native.constants;
const AF: Record<0 | 4 | 6, number> = { 0: 0 /* AF_UNSPEC */, 4: C.AF_INET, 6: C.AF_INET6 };
const EAI = native.eaiConstants;
const EAI_NONAME = EAI.EAI_NONAME ?? -2; // glibc's value, should a platform not define it

interface Pending {
  host: string;
  port: number;
  resolve: (addrs: ResolvedAddress[]) => void;
  reject: (err: Error) => void;
}

/** One loop's lookups in flight, and the wake fd its helper threads write to. */
class Lookups {
  readonly pending = new Map<number, Pending>();
  readonly wakeFd: number;
  readonly #signals: SignalTable;

  constructor(signals: SignalTable, onClosed: () => void) {
    this.#signals = signals;
    this.wakeFd = signals.helperWakeFd(
      () => this.collect(),
      () => {
        onClosed();
        this.cancelAll(iomuxError('ERR_LOOP_CLOSED', 'The loop was closed while a name lookup ran'));
      },
    );
  }

  /** Settles every finished lookup (a wake byte may stand for several). */
  collect(): void {
    for (const [id, p] of this.pending) {
      const r = native.resolverTake(id);
      if (r === undefined) continue;
      this.pending.delete(id);
      this.#signals.holdHelper(-1);
      if (r === -1) p.reject(iomuxError('ERR_CANCELLED', `The lookup of ${p.host} was lost`));
      else if (r.status !== 0 || r.addresses.length === 0)
        p.reject(lookupError(r.status || EAI_NONAME, r.errno, p.host));
      else p.resolve(addresses(r.addresses, p.port));
    }
  }

  cancel(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    native.resolverCancel(id);
    this.#signals.holdHelper(-1);
    p.reject(err);
  }

  add(id: number, p: Pending): void {
    this.pending.set(id, p);
    this.#signals.holdHelper(1);
  }

  cancelAll(err: Error): void {
    for (const id of Array.from(this.pending.keys())) this.cancel(id, err); // a snapshot: cancel() deletes
  }
}

const byLoop = new WeakMap<Loop, Lookups>();

function lookupsOf(loop: Loop, signals: SignalTable): Lookups {
  let l = byLoop.get(loop);
  if (l === undefined) {
    l = new Lookups(signals, () => byLoop.delete(loop));
    byLoop.set(loop, l);
  }
  return l;
}

function addresses(flat: Array<number | string>, port: number): ResolvedAddress[] {
  const out: ResolvedAddress[] = [];
  const seen = new Set<string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const family = flat[i] === C.AF_INET6 ? 6 : 4;
    const host = flat[i + 1] as string;
    if (seen.has(`${family} ${host}`)) continue; // a hosts file may list an address twice
    seen.add(`${family} ${host}`);
    out.push({ family, host, port });
  }
  return out;
}

/** Node's shape for dns failures: `getaddrinfo ENOTFOUND name`, code, syscall, hostname. */
function lookupError(status: number, sysErrno: number, host: string): Error {
  if (status === EAI.EAI_SYSTEM && sysErrno !== 0)
    return Object.assign(errnoError(-sysErrno, 'getaddrinfo'), { hostname: host });
  // As Node's dns does: "no such name" and "no address (of that family)" are both ENOTFOUND.
  const notFound = status === EAI.EAI_NONAME || status === EAI.EAI_NODATA || status === EAI.EAI_ADDRFAMILY;
  const code = notFound ? 'ENOTFOUND' : (Object.keys(EAI).find((k) => EAI[k] === status) ?? `EAI_${status}`);
  return Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code, syscall: 'getaddrinfo', hostname: host });
}

function checkPort(port: unknown, name = 'port'): number {
  if (typeof port !== 'number') throw invalidArgType(name, 'a number', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidArgValue(name, 'an integer from 0 to 65535', port);
  return port;
}

/**
 * Resolves `host` with getaddrinfo(3) on a helper thread: every address, in the order the system
 * prefers (hosts file first, as configured), each with `port`.
 * @throws (rejects) ENOTFOUND for an unknown name, EAI_AGAIN and the like, ABORT_ERR / ETIMEDOUT
 *   (the thread's result is then dropped), ERR_LOOP_CLOSED, ERR_INVALID_ARG_TYPE / _VALUE
 */
export function getaddrinfo(
  loop: Loop,
  signals: SignalTable,
  host: string,
  port: number,
  opts: LookupOptions = {},
): Promise<ResolvedAddress[]> {
  let guard: WaitGuard | null = null;
  try {
    if (typeof host !== 'string') throw invalidArgType('host', 'a string', host);
    if (host.length === 0 || host.includes('\0'))
      throw invalidArgValue('host', 'a non-empty name without NUL bytes', host);
    checkPort(port);
    if (typeof opts !== 'object' || opts === null)
      throw invalidArgType('options', 'an object { family, signal, timeout }', opts);
    const family = opts.family ?? 0;
    if (family !== 0 && family !== 4 && family !== 6) throw invalidArgValue('options.family', '0, 4 or 6', family);
    const checked = checkWaitOptions(opts);
    if (loop.closed) throw iomuxError('ERR_LOOP_CLOSED', 'The loop is closed');
    if (checked !== undefined) guard = new WaitGuard(loop, checked, 'getaddrinfo');
    const lookups = lookupsOf(loop, signals);
    const id = native.resolverStart(host, AF[family], lookups.wakeFd);
    const start = (): Promise<ResolvedAddress[]> =>
      new Promise((resolve, reject) => {
        lookups.add(id, { host, port, resolve, reject });
      });
    if (guard === null) return start();
    const g = guard;
    return g.wait(start, () => (err) => lookups.cancel(id, err)).finally(() => g.done());
  } catch (err) {
    guard?.done();
    return Promise.reject(err);
  }
}

/**
 * `addr` with a numeric host, for the layers that take `{ host, port }`: a numeric host passes
 * through; a name resolves through loop.getaddrinfo() and the first address is used.
 */
export async function resolveHostPort(loop: Loop, addr: HostPort, family: 0 | 4 | 6): Promise<HostPort> {
  if (typeof addr !== 'object' || addr === null || typeof addr.host !== 'string' || isIP(addr.host) !== 0) return addr;
  const [first] = await loop.getaddrinfo(addr.host, addr.port, { family });
  // getaddrinfo() never resolves with an empty list (collect() rejects that with ENOTFOUND).
  return { host: first!.host, port: addr.port };
}
