// Small statistics for the proofs: medians of sample windows and the growth check the soak
// applies to each series.

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export interface Growth {
  first: number;
  last: number;
  limit: number;
  ok: boolean;
}

/**
 * "Grows without bound", made testable: after the warm-up, the median of the last third of the
 * samples may exceed the median of the first third by at most `ratio` of it plus `slack`. A leak
 * of any steady rate moves the last third up; noise and a plateau reached in the first third do not.
 */
export function growth(series: number[], ratio: number, slack: number): Growth {
  const third = Math.floor(series.length / 3);
  const first = median(series.slice(0, third));
  const last = median(series.slice(series.length - third));
  const limit = first * (1 + ratio) + slack;
  return { first, last, limit, ok: third > 0 && last <= limit };
}

// The soak's limits: a 10-minute run fails on a leak of 100 KiB/s or of one fd per 5 s, and
// passes the plateau its first minutes climb to (test/scripts/proof-helpers.test.ts).
export const RSS_LIMIT = { ratio: 0.1, slack: 8 * 2 ** 20 };
export const HEAP_LIMIT = { ratio: 0.1, slack: 4 * 2 ** 20 };
export const FD_LIMIT = { ratio: 0.1, slack: 20 };
