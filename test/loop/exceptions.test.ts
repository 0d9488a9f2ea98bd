// Exceptions in callbacks (DESIGN §3 "A callback that throws goes to the exception handler"):
// the handler gets the error and a context naming the callback and its fd or handle; the loop
// goes on and loses no other callback. The default handler prints with console.error.
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { ExceptionContext } from '../../src/loop.js';
import { drain, expectError, pipe, writeBytes } from '../helpers/fds.js';
import { backends, openLoop } from './helpers.js';
import { cleanup } from '../helpers/resources.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await cleanup();
});

describe.each(backends)('%s loop: exceptions', (backend) => {
  test('throwing callbacks go to the handler with context, and no other callback is lost', async () => {
    const loop = openLoop(backend);
    const seen: Array<[unknown, ExceptionContext]> = [];
    loop.setExceptionHandler((err, ctx) => void seen.push([err, ctx]));
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    writeBytes(w1);
    writeBytes(w2);
    const ran: string[] = [];
    const boom = (what: string) => () => {
      ran.push(what);
      throw new Error(what);
    };
    const soonBoom = boom('soon');
    const soon = loop.callSoon(soonBoom);
    loop.callSoon(() => ran.push('soon ok'));
    const readerBoom = () => {
      ran.push('reader');
      drain(r1);
      loop.removeReader(r1);
      throw new Error('reader');
    };
    loop.addReader(r1, readerBoom);
    loop.addReader(r2, () => {
      ran.push('reader ok');
      drain(r2);
      loop.removeReader(r2);
    });
    const timerBoom = boom('timer');
    const timer = loop.callLater(0, timerBoom);
    loop.callLater(0, () => ran.push('timer ok'));
    await loop.run();

    expect(ran.sort()).toEqual(['reader', 'reader ok', 'soon', 'soon ok', 'timer', 'timer ok']);
    expect(seen.map(([err]) => (err as Error).message).sort()).toEqual(['reader', 'soon', 'timer']);
    const ctxOf = (msg: string) => seen.find(([err]) => (err as Error).message === msg)![1];
    expect(ctxOf('soon')).toMatchObject({ callback: soonBoom, handle: soon });
    expect(ctxOf('timer')).toMatchObject({ callback: timerBoom, handle: timer });
    expect(ctxOf('reader')).toMatchObject({ callback: readerBoom, fd: r1 });
    expect(ctxOf('reader').message).toMatch(new RegExp(`reader callback for fd ${r1}`));
    expect(loop.selector.selects).toBe(1);
  });

  test('a callback that throws every iteration does not stop the loop', async () => {
    const loop = openLoop(backend);
    let errors = 0;
    loop.setExceptionHandler(() => {
      errors++;
    });
    let runs = 0;
    const again = () => {
      if (++runs === 50) return;
      loop.callSoon(again);
      throw new Error('again');
    };
    loop.callSoon(again);
    await loop.run();
    expect(runs).toBe(50);
    expect(errors).toBe(49);
  });

  test('the default handler prints the message, context and error with console.error', async () => {
    const loop = openLoop(backend);
    loop.setExceptionHandler(null);
    const printed: unknown[][] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
    const err = new Error('printed');
    const cb = () => {
      throw err;
    };
    loop.callSoon(cb);
    loop.callSoon(() => {});
    await loop.run();
    expect(printed.length).toBe(1);
    expect(printed[0][0]).toMatch(/Exception in callback/);
    expect(printed[0]).toContain(err);
    expect(printed[0][1]).toMatchObject({ callback: cb });
  });

  test('a handler that throws falls back to the default, and the loop goes on', async () => {
    const loop = openLoop(backend);
    const printed: unknown[][] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
    loop.setExceptionHandler(() => {
      throw new Error('handler broke');
    });
    let after = false;
    loop.callSoon(() => {
      throw new Error('first');
    });
    loop.callSoon(() => loop.callSoon(() => void (after = true)));
    await loop.run();
    expect(after).toBe(true);
    const texts = printed.map((args) => args.map(String).join(' '));
    expect(texts.some((t) => t.includes('first'))).toBe(true);
    expect(texts.some((t) => t.includes('handler broke'))).toBe(true);
  });

  test('setExceptionHandler refuses what is not a function', () => {
    const loop = openLoop(backend);
    expectError(() => loop.setExceptionHandler(42 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
  });
});
