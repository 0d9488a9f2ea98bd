// bench/report/progress.ts: the "[k/n] case" line on stderr, rewritten in place on a terminal and
// one line per case into a file or pipe.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Progress } from '../../bench/report/progress.js';

let written: string[] = [];
const wasTty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');

beforeEach(() => {
  written = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  if (wasTty) Object.defineProperty(process.stderr, 'isTTY', wasTty);
  else delete (process.stderr as { isTTY?: boolean }).isTTY;
});

function asTerminal(tty: boolean): void {
  Object.defineProperty(process.stderr, 'isTTY', { value: tty, configurable: true, writable: true });
}

describe('Progress into a pipe', () => {
  test('prints one numbered line per case', () => {
    asTerminal(false);
    const p = new Progress(3);
    p.step('pipes epoll N=10');
    p.step('pipes poll N=10');
    expect(written).toEqual(['[1/3] pipes epoll N=10\n', '[2/3] pipes poll N=10\n']);
  });

  test('a note is its own line and clears nothing', () => {
    asTerminal(false);
    const p = new Progress(1);
    p.step('a');
    p.note('bench: python3 not found');
    expect(written).toEqual(['[1/1] a\n', 'bench: python3 not found\n']);
  });
});

describe('Progress on a terminal', () => {
  test('rewrites the line in place, padding over a longer previous label', () => {
    asTerminal(true);
    const p = new Progress(2);
    p.step('a long label');
    p.step('short');
    expect(written).toEqual(['\r[1/2] a long label', `\r[2/2] short${' '.repeat(7)}`]);
  });

  test('a note first blanks the progress line, then stays on its own line', () => {
    asTerminal(true);
    const p = new Progress(1);
    p.step('abc');
    p.note('kept');
    expect(written).toEqual(['\r[1/1] abc', `\r${' '.repeat(9)}\r`, 'kept\n']);
  });

  test('clear() writes nothing when no progress line is showing', () => {
    asTerminal(true);
    const p = new Progress(1);
    p.clear();
    p.step('x');
    p.clear();
    p.clear();
    expect(written).toEqual(['\r[1/1] x', `\r${' '.repeat(7)}\r`]);
  });
});
