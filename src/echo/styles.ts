// Picks the echo style the options name. Each style is one file that only does the echoing.
import type { Loop } from '../loop.js';
import type { EchoContext, EchoServer } from './server.js';
import { startCallbackEcho } from './callback.js';
import { startProtocolEcho } from './protocol.js';
import { startAsyncEcho } from './async.js';

/** Starts the echo server in the style the options name, listening where they say. */
export function startEchoServer(loop: Loop, ctx: EchoContext): Promise<EchoServer> {
  switch (ctx.opts.style) {
    case 'callback': return startCallbackEcho(loop, ctx);
    case 'protocol': return startProtocolEcho(loop, ctx);
    case 'async': return startAsyncEcho(loop, ctx);
  }
}
