// The listening socket for the styles that accept by hand (callback and async; the protocol
// style gets its own from loop.createServer(), which claims a Unix path by the same rule).
import { isIP } from 'node:net';
import { Socket } from '../socket.js';
import { claimUnixPath, releaseUnixPath, socketFileId, type SocketFileId } from '../unix-path.js';
import { LISTEN_FD } from './control.js';
import type { EchoOptions } from './options.js';

/** A listening socket, and the Unix socket file it owns (if any). */
export interface Listener {
  readonly sock: Socket;
  /** Closes the socket and removes its Unix socket file, if that is still ours. */
  close(): void;
}

/**
 * Binds and listens as the options say. A Unix path is claimed as createServer() claims it: a
 * stale socket file is removed, a live server's is not (EADDRINUSE).
 */
export function listenSocket(opts: EchoOptions, backlog = 511): Listener {
  if (opts.inherited) {
    // The supervisor's socket, already listening; closing our copy leaves it open there.
    const sock = new Socket(LISTEN_FD, isIP(opts.host) === 6 ? 'IPv6' : 'IPv4');
    return { sock, close: () => sock.close() };
  }
  const sock = opts.path !== null ? Socket.unix() : Socket.forHost(opts.host);
  let pathId: SocketFileId | null = null;
  try {
    if (opts.path !== null) {
      claimUnixPath(opts.path);
      sock.bind({ path: opts.path });
      pathId = socketFileId(opts.path);
    } else {
      sock.setReuseAddress(true);
      sock.bind({ host: opts.host, port: opts.port });
    }
    sock.listen(backlog);
  } catch (err) {
    sock.close();
    if (opts.path !== null) releaseUnixPath(opts.path, pathId);
    throw err;
  }
  const path = opts.path;
  return {
    sock,
    close(): void {
      sock.close();
      if (path !== null) releaseUnixPath(path, pathId);
    },
  };
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
    sock.close(); // reset before we got to it
    return false;
  }
  return true;
}
