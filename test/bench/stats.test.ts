// bench/report/stats.ts: the order statistics every pipes row is built from. Percentiles are
// numpy's default (linear interpolation between closest ranks); the expected values below are
// what `numpy.percentile(x, q)` prints for the same samples.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { summarize } from '../../bench/report/stats.js';

describe('summarize', () => {
  test('one sample is its own median, p10, p90, min and max', () => {
    expect(summarize([7.5])).toEqual({ n: 1, median: 7.5, p10: 7.5, p90: 7.5, min: 7.5, max: 7.5 });
  });

  test('an even count takes the mean of the two middle samples as the median', () => {
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
  });

  test('an odd count takes the middle sample as the median', () => {
    expect(summarize([9, 1, 5]).median).toBe(5);
  });

  test('p10 and p90 interpolate between closest ranks as numpy does (1..10)', () => {
    const s = summarize([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(s.n).toBe(10);
    expect(s.median).toBeCloseTo(5.5, 12);
    expect(s.p10).toBeCloseTo(1.9, 12); // numpy.percentile(range(1, 11), 10) == 1.9
    expect(s.p90).toBeCloseTo(9.1, 12); // numpy.percentile(range(1, 11), 90) == 9.1
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
  });

  test('p10 and p90 interpolate between unevenly spaced samples', () => {
    // numpy.percentile([15, 20, 35, 40, 50], [10, 50, 90]) == [17, 35, 46]
    const s = summarize([50, 15, 40, 20, 35]);
    expect(s.p10).toBeCloseTo(17, 12);
    expect(s.median).toBe(35);
    expect(s.p90).toBeCloseTo(46, 12);
  });

  test('two samples put p10 a tenth of the way from the smaller to the larger', () => {
    const s = summarize([100, 200]);
    expect(s.p10).toBeCloseTo(110, 12);
    expect(s.median).toBe(150);
    expect(s.p90).toBeCloseTo(190, 12);
  });

  test('sorts numerically, not as strings (10 sorts after 9)', () => {
    const s = summarize([10, 9, 100, 2]);
    expect(s.min).toBe(2);
    expect(s.max).toBe(100);
    expect(s.median).toBe(9.5);
  });

  test("leaves the caller's array in its original order", () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  test('an empty sample throws instead of making a number up', () => {
    expect(() => summarize([])).toThrow('summarize: no samples');
  });

  test('min <= p10 <= median <= p90 <= max, whatever the order of the samples', () => {
    // -0 is mapped to 0: the two sort as equals, so which one comes out as min is arbitrary.
    const value = fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => (x === 0 ? 0 : x));
    const sample = fc.array(value, { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(sample, (xs) => {
        const s = summarize(xs);
        expect(s.n).toBe(xs.length);
        expect(s.min).toBe(Math.min(...xs));
        expect(s.max).toBe(Math.max(...xs));
        // Interpolation may round by an ulp or so; allow that and nothing more.
        const eps = 1e-9 * Math.max(1, Math.abs(s.min), Math.abs(s.max));
        expect(s.p10).toBeGreaterThanOrEqual(s.min - eps);
        expect(s.median).toBeGreaterThanOrEqual(s.p10 - eps);
        expect(s.p90).toBeGreaterThanOrEqual(s.median - eps);
        expect(s.max).toBeGreaterThanOrEqual(s.p90 - eps);
        expect(summarize([...xs].reverse())).toEqual(s);
      }),
      { numRuns: 200 },
    );
  });
});
