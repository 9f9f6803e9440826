// Summary statistics of measured latencies (ms).

export interface Summary {
  n: number;
  median: number;
  p90: number;
  mean: number;
  min: number;
  max: number;
}

/** Linear-interpolated quantile (NumPy's default), q in [0, 1]. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return {
    n,
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    mean: n ? s.reduce((a, b) => a + b, 0) / n : NaN,
    min: n ? s[0]! : NaN,
    max: n ? s[n - 1]! : NaN,
  };
}
