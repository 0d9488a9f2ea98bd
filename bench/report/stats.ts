// Order statistics of a sample. Medians and percentiles, not means: one descheduling on a noisy
// shared machine moves a mean a lot and a median hardly at all.

export interface Summary {
  /** Number of samples summarised. */
  n: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

/** Percentile by linear interpolation between closest ranks (numpy's default). */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 1) return sorted[0];
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Summarises samples; throws on an empty sample (no number is ever made up). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: percentile(sorted, 0.5),
    p10: percentile(sorted, 0.1),
    p90: percentile(sorted, 0.9),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}
