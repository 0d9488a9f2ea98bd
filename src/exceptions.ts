// Where errors thrown by loop callbacks go: the loop goes on, and the exception handler (by
// default a console.error) hears about the error with a context naming its source.
import type { Handle } from './handle.js';

/** What the exception handler receives beside the error. */
export interface ExceptionContext {
  /** What failed, e.g. "Exception in reader callback for fd 7". */
  readonly message: string;
  /** The callback that threw. */
  readonly callback?: () => void;
  /** The fd whose reader or writer threw. */
  readonly fd?: number;
  /** The handle (callSoon/callLater) whose callback threw. */
  readonly handle?: Handle;
  /** The signal whose handler threw, e.g. 'SIGINT'. */
  readonly signal?: string;
}

/** Receives what loop callbacks throw (Loop.setExceptionHandler()); the loop goes on. */
export type ExceptionHandler = (err: unknown, context: ExceptionContext) => void;

/** Prints the message, the context and the error with console.error. */
export function defaultExceptionHandler(err: unknown, context: ExceptionContext): void {
  const { message, ...rest } = context;
  console.error(`iomux: ${message}`, rest, err);
}

/** Calls `handler`; if the handler throws too, prints both errors with the default handler. */
export function reportException(handler: ExceptionHandler, err: unknown, context: ExceptionContext): void {
  try {
    handler(err, context);
  } catch (handlerErr) {
    defaultExceptionHandler(err, context);
    defaultExceptionHandler(handlerErr, { message: 'Exception in the exception handler' });
  }
}
