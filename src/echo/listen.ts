// The listening socket for the styles that accept by hand (callback and async; the protocol
// style gets its own from loop.createServer()), and the Unix socket path check all styles share.
import { lstatSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { errnoError } from '../errors.js';
import { Socket } from '../socket.js';
import type { EchoOptions } from './options.js';

/** Binds and listens as the options say; a stale Unix socket file at the path is removed first. */
export function listenSocket(opts: EchoOptions, backlog = 511): Socket {
  if (opts.path !== null) checkUnixPath(opts.path);
  const sock = opts.path !== null ? Socket.unix() : Socket.forHost(opts.host);
  try {
    if (opts.path !== null) {
      removeStale(opts.path);
      sock.bind({ path: opts.path });
    } else {
      sock.setReuseAddress(true);
      if (opts.reusePort) sock.setReusePort(true);
      sock.bind({ host: opts.host, port: opts.port });
    }
    sock.listen(backlog);
  } catch (err) {
    sock.close();
    throw err;
  }
  return sock;
}

/** Closes the listening socket and removes its Unix socket file, if it has one. */
export function closeListener(listener: Socket, opts: EchoOptions): void {
  listener.close();
  if (opts.path !== null) removeStale(opts.path);
}

/**
 * Decides whether a freshly accepted connection is served: over `limit` open connections it is
 * closed and counted as refused; TCP ones get TCP_NODELAY (an echo must not wait for Nagle).
 * Returns false when the socket was closed here.
 */
export function admit(sock: Socket, open: number, limit: number, counters: { refused: number }): boolean {
  if (open >= limit) {
    counters.refused++;
    sock.close();
    return false;
  }
  try {
    if (sock.family !== 'unix') sock.setNoDelay(true);
  } catch {
    sock.close();                              // reset before we got to it
    return false;
  }
  return true;
}

/** Removes a Unix socket file: one a crashed run left (checkUnixPath() made sure), or our own. */
function removeStale(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // nothing there
  }
}

/**
 * Refuses a Unix socket path that is taken, as bind(2) would (EADDRINUSE): by something other
 * than a socket, or by a socket a live server still accepts on. A socket file nobody listens on
 * (left by a crash) is fair game. Call it before anything that unlinks the path (transports'
 * createServer removes whatever is there).
 */
export function checkUnixPath(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (isSocket && !isLive(path)) return;
  throw errnoError(-osConstants.errno.EADDRINUSE, 'bind');
}

function isLive(path: string): boolean {
  const probe = Socket.unix();
  try {
    probe.connect({ path });  // connected, or in progress: someone listens
    return true;
  } catch {
    return false;             // ECONNREFUSED: a stale file
  } finally {
    probe.close();
  }
}
