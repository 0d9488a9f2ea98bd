// Unix socket files on the listening side: who may take a path, and who may remove the file.
// The library's createServer({ path }) and the echo CLI both listen through these, so a path is
// claimed and released by one rule.
//
// bind(2) on a Unix path fails with EADDRINUSE while any file is there, even a socket whose
// server is long gone. Such a stale file is removed first; a file someone still accepts on, or
// anything that is not a socket, is left alone and the bind fails as the kernel would have it.
import { lstatSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { errnoError } from './errors.js';
import { Socket } from './socket.js';

/** Which file a path named when we bound it: dev and inode, as lstat(2) gives them. */
export interface SocketFileId {
  readonly dev: number;
  readonly ino: number;
}

/**
 * Makes `path` free for bind(2): removes a socket file nobody listens on.
 * @throws EADDRINUSE (syscall 'bind') when a live server accepts there or a non-socket file is in
 * the way
 */
export function claimUnixPath(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket || isLive(path)) throw errnoError(-osConstants.errno.EADDRINUSE, 'bind');
  try {
    unlinkSync(path);
  } catch {
    // gone already (another claimant won the race); bind() decides
  }
}

/** The identity of the socket file just bound at `path`, or null if it cannot be seen. */
export function socketFileId(path: string): SocketFileId | null {
  try {
    const st = lstatSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/**
 * Removes the socket file at `path` only if it is still the one `id` names: a path another
 * server claimed since (after removing ours) keeps its file.
 */
export function releaseUnixPath(path: string, id: SocketFileId | null): void {
  if (id === null) return;
  try {
    const st = lstatSync(path);
    if (st.dev === id.dev && st.ino === id.ino) unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Whether a server accepts on the socket file: a connect that succeeds or is in progress (a full
 * backlog gives EAGAIN) says yes; ECONNREFUSED says it is stale. Other failures (EACCES, say)
 * count as live: bind() could not use that path either, and guessing wrong would delete a live
 * server's file.
 */
function isLive(path: string): boolean {
  const probe = Socket.unix();
  try {
    probe.connect({ path });
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code !== 'ECONNREFUSED' && code !== 'ENOENT';
  } finally {
    probe.close();
  }
}
