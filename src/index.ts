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
export { errnoError } from './errors.js';
export type { IomuxError, IomuxErrorCode, SystemError } from './errors.js';
