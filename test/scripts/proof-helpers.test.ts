// The pieces of `npm run soak` and `npm run load` that decide pass or fail: the growth criterion
// (a leak at any steady rate fails, noise and an early plateau pass), and reading the memory and
// connection figures back from the lines `iomux echo --stats` prints.
import { describe, expect, test } from 'vitest';
import { formatMemory, formatStats } from '../../src/echo/stats.js';
import { connsFromLine, heapFromLine } from '../../scripts/lib/echo-child.js';
import { FD_LIMIT, HEAP_LIMIT, RSS_LIMIT, growth, median } from '../../scripts/lib/stats.js';

const MiB = 1024 * 1024;

describe('soak growth criterion', () => {
  test('a flat but noisy series passes', () => {
    const series = Array.from({ length: 540 }, (_, i) => 90 * MiB + ((i * 7919) % 13) * 0.5 * MiB);
    expect(growth(series, RSS_LIMIT.ratio, RSS_LIMIT.slack).ok).toBe(true);
  });

  test('a plateau reached early passes', () => {
    const series = Array.from({ length: 540 }, (_, i) => (i < 60 ? 60 + i / 2 : 90) * MiB);
    expect(growth(series, RSS_LIMIT.ratio, RSS_LIMIT.slack).ok).toBe(true);
  });

  test('a steady leak of 100 KiB a second over 9 minutes fails', () => {
    const series = Array.from({ length: 540 }, (_, i) => 90 * MiB + i * 100 * 1024);
    const g = growth(series, RSS_LIMIT.ratio, RSS_LIMIT.slack);
    expect(g.ok).toBe(false);
    expect(g.last).toBeGreaterThan(g.limit);
  });

  test('fds that keep climbing by one every 5 s fail', () => {
    const series = Array.from({ length: 540 }, (_, i) => 50 + Math.floor(i / 5));
    expect(growth(series, FD_LIMIT.ratio, FD_LIMIT.slack).ok).toBe(false);
  });

  test('a heap leak of 20 KiB a second over 9 minutes fails', () => {
    const series = Array.from({ length: 540 }, (_, i) => 7 * MiB + i * 20 * 1024);
    expect(growth(series, HEAP_LIMIT.ratio, HEAP_LIMIT.slack).ok).toBe(false);
  });

  test('too few samples never pass', () => {
    expect(growth([1, 2], 0.25, 0).ok).toBe(false);
  });

  test('median ignores NaN (a second with no memory line yet)', () => {
    expect(median([3, NaN, 1, 2])).toBe(2);
    expect(median([])).toBeNaN();
  });
});

describe('reading --stats lines back', () => {
  test('the memory line gives the heap in bytes (to the 0.1 MiB printed)', () => {
    const line = `iomux echo: ${formatMemory({ rss: 80 * MiB, heapUsed: 7.25 * MiB })}`;
    expect(line).toBe('iomux echo: memory: rss 80.0 MiB, heap 7.3 MiB');
    expect(heapFromLine(line)).toBe(Math.round(7.3 * MiB));
    expect(connsFromLine(line)).toBeNull();
  });

  test('the stats line gives the connection count', () => {
    const line = `iomux echo: ${formatStats({ conns: 12, msgsPerSec: 100, bytesPerSec: 2048, refused: 0, acceptErrors: 0 })}`;
    expect(connsFromLine(line)).toBe(12);
    expect(heapFromLine(line)).toBeNull();
  });
});
