import { describe, expect, it } from 'vitest';
import { generationNoise, randn, sfc32, splitStream, streamLength } from '../src/engine/rng';

describe('seeded normal noise', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(randn(7, 100)).toEqual(randn(7, 100));
    expect(randn(7, 100)).not.toEqual(randn(8, 100));
  });
  it('is a prefix-stable stream (image i of a batch = the same slice)', () => {
    expect(randn(3, 10)).toEqual(randn(3, 11).subarray(0, 10));
  });
  it('is stable across releases (shared links reproduce the same cat)', () => {
    const first = Array.from(sfc32(42)().toString(16));
    expect(first.length).toBeGreaterThan(0);
    const v = Array.from(randn(42, 4), (x) => Number(x.toFixed(5)));
    expect(v).toMatchSnapshot();
  });
  it('looks standard normal', () => {
    const x = randn(1, 200_000);
    let m = 0;
    for (const v of x) m += v;
    m /= x.length;
    let s = 0;
    let tail = 0;
    for (const v of x) {
      s += (v - m) ** 2;
      if (Math.abs(v) > 1.96) tail++;
    }
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.sqrt(s / x.length)).toBeCloseTo(1, 1);
    expect(tail / x.length).toBeCloseTo(0.05, 2);
    expect(x.every(Number.isFinite)).toBe(true);
  });
  it('refuses bad seeds', () => {
    expect(() => randn(-1, 2)).toThrow(RangeError);
    expect(() => randn(1.5, 2)).toThrow(RangeError);
    expect(() => randn(2 ** 32, 2)).toThrow(RangeError);
  });
});

describe('the stream of a 128 px generation (docs/sampler.md, "The upscaler stage")', () => {
  const B = 2;
  const n64 = B * 3 * 8 * 8;
  const n128 = B * 3 * 16 * 16;

  it('continues after the base noise: [n64, 2 n64) is eps_c, [2 n64, 2 n64 + n128) is x0', () => {
    const all = randn(9, 2 * n64 + n128);
    const g = generationNoise(9, B, 8, 16);
    expect(streamLength(B, 8, 16)).toBe(2 * n64 + n128);
    expect(g.base).toEqual(all.subarray(0, n64));
    expect(g.epsC).toEqual(all.subarray(n64, 2 * n64));
    expect(g.x0).toEqual(all.subarray(2 * n64));
    expect(g.x0.length).toBe(n128);
  });

  it('starts from the same base noise as the 64 px cat of the same seed', () => {
    const small = generationNoise(9, B, 8, null);
    expect(streamLength(B, 8, null)).toBe(n64);
    expect([small.epsC.length, small.x0.length]).toEqual([0, 0]);
    expect(generationNoise(9, B, 8, 16).base).toEqual(small.base);
    expect(small.base).toEqual(randn(9, n64));
  });

  it('splits a given stream the same way, and refuses one of another length', () => {
    const stream = Float32Array.from({ length: 2 * n64 + n128 }, (_, i) => i);
    const g = splitStream(stream, B, 8, 16);
    expect([g.base[0], g.epsC[0], g.x0[0], g.x0[n128 - 1]]).toEqual([0, n64, 2 * n64, 2 * n64 + n128 - 1]);
    expect(() => splitStream(stream, B, 8, null)).toThrow(RangeError);
    expect(() => splitStream(stream.subarray(1), B, 8, 16)).toThrow(/uses/);
  });
});
