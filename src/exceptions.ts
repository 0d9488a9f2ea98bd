// Where errors thrown by loop callbacks go: the loop goes on, and the exception handler (by
// default a console.error) hears about the error with a context naming its source.
import type { Handle } from './handle.js';

/** What the exception handler receives beside the error. */
export interface ExceptionContext {
  readonly message: string;
  readonly callback?: () => void;
  readonly fd?: number;
  readonly handle?: Handle;
  readonly signal?: string;
}

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
