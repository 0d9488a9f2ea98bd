// The public API of iomux. Every export is named here; nothing else is public.
export {
  EVENT_READ,
  EVENT_WRITE,
  BaseSelector,
  SelectSelector,
  PollSelector,
  EpollSelector,
  KqueueSelector,
  DefaultSelector,
  availableBackends,
  createSelector,
} from './selectors.js';
export type { FileLike, SelectorKey, BackendName } from './selectors.js';
export { Loop, Handle } from './loop.js';
export type { ExceptionContext, ExceptionHandler } from './exceptions.js';
export type { LoopOptions } from './loop.js';
export { Socket, socketpair } from './socket.js';
export { PipeEnd, pipe } from './pipe.js';
export { StreamReader, StreamWriter } from './streams.js';
export { DatagramTransport } from './datagram.js';
export type { DatagramProtocol, DatagramEndpointOptions, HostPort } from './datagram.js';
export type { IncompleteReadError, LimitOverrunError } from './streams.js';
export type { Address, ReceivedDatagram, SocketFamily } from './socket.js';
export { Transport, Server } from './transports.js';
export type {
  Protocol,
  ListenOptions,
  ConnectOptions,
  AcceptedSocketOptions,
  WriteBufferLimits,
} from './transports.js';
export type { WaitOptions } from './wait-options.js';
export type { LookupOptions, ResolvedAddress } from './names.js';
export { errnoError } from './errors.js';
export type { IomuxError, IomuxErrorCode, SystemError } from './errors.js';
