import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  classWeights,
  guidedVelocity,
  integrate,
  networkCalls,
  oneHot,
  sample,
  tile,
  timeGrid,
  toVelocity,
  upscale,
  upscaleCondition,
  type Denoiser,
  type SamplerOptions,
  type UpscaleDenoiser,
  type UpscaleOptions,
} from '../src/engine/sampler';

const base: SamplerOptions = { steps: 4, cfgScale: 1, solver: 'euler', shift: 1, prediction: 'x', tEps: 0.05 };

/** x-prediction denoiser that always predicts the clean image c(y) = y . centers (per class). */
function constantDenoiser(centers: number[], calls: number[] = []): Denoiser {
  return async (x, t, y, batch) => {
    calls.push(batch);
    const d = x.length / batch;
    const k = y.length / batch;
    const out = new Float32Array(x.length);
    for (let b = 0; b < batch; b++) {
      let c = 0;
      for (let j = 0; j < k; j++) c += y[b * k + j]! * centers[j]!;
      out.fill(c, b * d, (b + 1) * d);
    }
    expect(t.length).toBe(batch);
    return out;
  };
}

describe('time grid', () => {
  it('is i / N from 0 to 1', () => {
    expect(timeGrid(4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });
  it('warps with shift: t / (t + shift (1 - t))', () => {
    const g = timeGrid(2, 3);
    expect(g[0]).toBe(0);
    expect(g[1]).toBeCloseTo(0.25, 12);
    expect(g[2]).toBe(1);
  });
  it('refuses zero steps', () => {
    expect(() => timeGrid(0)).toThrow(RangeError);
  });
  it('Heun costs 2N - 1 network calls', () => {
    expect(networkCalls(20, 'heun')).toBe(39);
    expect(networkCalls(20, 'euler')).toBe(20);
  });
});

describe('x -> v conversion', () => {
  it('divides by 1 - t', () => {
    const v = toVelocity(new Float32Array([1, 1]), new Float32Array([0, 0.5]), new Float32Array([0.5]), 'x', 0.05);
    expect(Array.from(v)).toEqual([2, 1]);
  });
  it('clips 1 - t at t_eps', () => {
    const v = toVelocity(new Float32Array([1]), new Float32Array([0]), new Float32Array([1]), 'x', 0.05);
    expect(v[0]).toBeCloseTo(20, 4);
    const v2 = toVelocity(new Float32Array([1]), new Float32Array([0]), new Float32Array([0.99]), 'x', 0.05);
    expect(v2[0]).toBeCloseTo(20, 4);
  });
  it('passes v-prediction through', () => {
    const out = new Float32Array([3, -1]);
    expect(toVelocity(out, new Float32Array(2), new Float32Array([0.3]), 'v', 0.05)).toBe(out);
  });
  it('uses each sample its own t', () => {
    const v = toVelocity(new Float32Array([1, 1]), new Float32Array([0, 0]), new Float32Array([0, 0.5]), 'x', 0.05);
    expect(Array.from(v)).toEqual([1, 2]);
  });
});

describe('classifier-free guidance', () => {
  it('runs conditional and null rows as ONE batch of 2B and combines v_null + s (v_cond - v_null)', async () => {
    const calls: number[] = [];
    const seen: Float32Array[] = [];
    const model: Denoiser = async (x, t, y, batch) => {
      calls.push(batch);
      seen.push(Float32Array.from(y));
      return constantDenoiser([0.5, -0.25])(x, t, y, batch);
    };
    const x = new Float32Array([0, 0, 0, 0]); // B = 2, D = 2
    const y = tile(oneHot(2, 0), 2);
    const v = await guidedVelocity(model, x, 0, y, oneHot(2, 1), 2, 3, 'x', 0.05);
    expect(calls).toEqual([4]);
    expect(Array.from(seen[0]!)).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
    // v_cond = 0.5, v_null = -0.25 at t = 0, x = 0: -0.25 + 3 * 0.75 = 2
    for (const vi of v) expect(vi).toBeCloseTo(2, 6);
  });
  it('with scale 1 skips the null half', async () => {
    const calls: number[] = [];
    await guidedVelocity(constantDenoiser([0.5, -0.25], calls), new Float32Array(2), 0.3, oneHot(2, 0), oneHot(2, 1), 1, 1, 'x', 0.05);
    expect(calls).toEqual([1]);
  });
});

describe('samplers (hand-checked)', () => {
  const eps = new Float32Array([0.3, -1.2, 2.0, 0.7]);

  it('Euler with a perfect x-denoiser lands exactly on the clean image', async () => {
    const out = await sample(constantDenoiser([0.5, 0]), eps, oneHot(2, 0), oneHot(2, 1), 1, { ...base, steps: 10 });
    for (const v of out) expect(v).toBeCloseTo(0.5, 5);
  });

  it('Heun too, with 2N - 1 calls and guidance applied once', async () => {
    const calls: number[] = [];
    // c_cond = 0.5, c_null = -0.25, s = 1.5: the guided target is -0.25 + 1.5 * 0.75 = 0.875
    const out = await sample(constantDenoiser([0.5, -0.25], calls), eps, oneHot(2, 0), oneHot(2, 1), 1, { ...base, steps: 5, solver: 'heun', cfgScale: 1.5 });
    expect(calls).toEqual(Array(9).fill(2));
    for (const v of out) expect(v).toBeCloseTo(0.875, 5);
  });

  it('clips 1 - t at t_eps on the last step (N = 40: x_N = 0.9875 c + 0.0125 eps)', async () => {
    const out = await sample(constantDenoiser([0.5, 0]), eps, oneHot(2, 0), oneHot(2, 1), 1, { ...base, steps: 40 });
    for (let j = 0; j < eps.length; j++) expect(out[j]).toBeCloseTo(Math.max(-1, Math.min(1, 0.9875 * 0.5 + 0.0125 * eps[j]!)), 5);
  });

  it('v-prediction, v = -x: Euler 2 steps = x0 / 4, Heun 2 steps = 0.3125 x0', async () => {
    const model: Denoiser = async (x) => x.map((v) => -v);
    const x0 = new Float32Array([0.8, -0.4]);
    const opts = { ...base, steps: 2, prediction: 'v' as const };
    const e = await sample(model, x0, oneHot(2, 0), oneHot(2, 1), 1, opts);
    expect(e[0]).toBeCloseTo(0.2, 6);
    expect(e[1]).toBeCloseTo(-0.1, 6);
    const h = await sample(model, x0, oneHot(2, 0), oneHot(2, 1), 1, { ...opts, solver: 'heun' });
    expect(h[0]).toBeCloseTo(0.25, 6);
    expect(h[1]).toBeCloseTo(-0.125, 6);
  });

  it('clips the final image to [-1, 1]', async () => {
    const out = await sample(constantDenoiser([3, 0]), eps, oneHot(2, 0), oneHot(2, 1), 1, base);
    for (const v of out) expect(v).toBe(1);
  });

  it('reports every step and stops when asked', async () => {
    const steps: number[] = [];
    let n = 0;
    await expect(
      sample(constantDenoiser([0.5, 0]), eps, oneHot(2, 0), oneHot(2, 1), 1, { ...base, steps: 6 }, {
        onStep: (i) => {
          steps.push(i);
        },
        shouldStop: () => ++n > 3,
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(steps).toEqual([0, 1, 2]);
  });

  it('does not modify the noise it was given', async () => {
    const copy = Float32Array.from(eps);
    await sample(constantDenoiser([0.5, 0]), eps, oneHot(2, 0), oneHot(2, 1), 1, base);
    expect(eps).toEqual(copy);
  });
});

describe('class weights (breed mixing)', () => {
  it('one-hot rows and convex combinations', () => {
    expect(Array.from(oneHot(4, 2))).toEqual([0, 0, 1, 0]);
    const y = classWeights(4, [
      [0, 0.3],
      [3, 0.7],
    ]);
    expect(y[0]).toBeCloseTo(0.3, 6);
    expect(y[3]).toBeCloseTo(0.7, 6);
    const n = classWeights(3, [
      [0, 2],
      [1, 2],
    ]);
    expect(Array.from(n)).toEqual([0.5, 0.5, 0]);
  });
  it('refuses bad rows', () => {
    expect(() => oneHot(3, 3)).toThrow(RangeError);
    expect(() => classWeights(3, [[0, 0]])).toThrow(RangeError);
    expect(() => classWeights(3, [[0, -1]])).toThrow(RangeError);
  });
  it('a mixed row conditions a linear denoiser on the mix', async () => {
    const y = classWeights(2, [
      [0, 0.25],
      [1, 0.75],
    ]);
    const out = await sample(constantDenoiser([0.8, -0.4, 0]), new Float32Array([0.1, 0.2]), new Float32Array([...y, 0]), oneHot(3, 2), 1, { ...base, steps: 8 });
    for (const v of out) expect(v).toBeCloseTo(0.25 * 0.8 + 0.75 * -0.4, 5);
  });
});

describe('one integration for both stages', () => {
  it('sample() is integrate() with the guided velocity', async () => {
    const eps = new Float32Array([0.3, -1.2, 2.0, 0.7]);
    const model = constantDenoiser([0.5, -0.25]);
    const opts = { ...base, steps: 5, solver: 'heun' as const, cfgScale: 2, shift: 3 };
    const a = await sample(model, eps, oneHot(2, 0), oneHot(2, 1), 1, opts);
    const b = await integrate((x, t) => guidedVelocity(model, x, t, oneHot(2, 0), oneHot(2, 1), 1, 2, 'x', 0.05), eps, opts);
    expect(a).toEqual(b);
  });
});

describe('the upscaler stage (hand-checked)', () => {
  const up: UpscaleOptions = { steps: 4, solver: 'heun', shift: 1, s: 0.1, tEps: 0.05 };
  // B = 2, each with a 2-value condition and a 4-value image: a perfect "upscaler" whose
  // x-prediction is its condition with every value repeated twice
  const images = new Float32Array([0.5, -0.5, 0.25, 0.75]);
  const epsC = new Float32Array([1, -1, 2, 0]);
  const noise = new Float32Array([0.3, -1.2, 2.0, 0.7, -0.1, 0.4, 1.1, -0.9]);

  type Seen = { batch: number; cond: number[]; s: number[] };
  function nearestUpscaler(seen: Seen[] = []): UpscaleDenoiser {
    return async (x, t, cond, s, batch) => {
      seen.push({ batch, cond: Array.from(cond), s: Array.from(s) });
      expect(t.length).toBe(batch);
      const out = new Float32Array(x.length);
      for (let j = 0; j < x.length; j++) out[j] = cond[Math.floor(j / 2)]!;
      return out;
    };
  }

  it('noises the condition once: cond = x64 + s eps_c', () => {
    const c = upscaleCondition(images, epsC, 0.1);
    expect(Array.from(c)).toEqual(Array.from([0.6, -0.6, 0.45, 0.75], Math.fround));
    expect(() => upscaleCondition(images, epsC.subarray(1), 0.1)).toThrow(RangeError);
  });

  it('feeds that condition and s to every call, B rows (no guidance), 2N - 1 Heun calls', async () => {
    const seen: Seen[] = [];
    await upscale(nearestUpscaler(seen), images, epsC, noise, 2, up);
    expect(seen).toHaveLength(networkCalls(up.steps, up.solver));
    const cond = Array.from(upscaleCondition(images, epsC, up.s));
    for (const call of seen) expect(call).toEqual({ batch: 2, cond, s: [Math.fround(0.1), Math.fround(0.1)] });
  });

  it('lands on its x-prediction, clipped to [-1, 1] (Euler and Heun)', async () => {
    const target = [0.6, 0.6, -0.6, -0.6, 0.45, 0.45, 0.75, 0.75];
    for (const solver of ['euler', 'heun'] as const) {
      const out = await upscale(nearestUpscaler(), images, epsC, noise, 2, { ...up, solver, steps: 10 });
      out.forEach((v, j) => expect(v).toBeCloseTo(target[j]!, 5));
    }
    const big = await upscale(nearestUpscaler(), new Float32Array([3, 3, -3, -3]), epsC, noise, 2, up);
    expect(Array.from(big)).toEqual([1, 1, 1, 1, -1, -1, -1, -1]);
  });

  it('reports each step with the network\'s latest clean-image estimate, and stops when asked', async () => {
    const previews: number[][] = [];
    let calls = 0;
    await expect(
      upscale(nearestUpscaler(), images, epsC, noise, 2, { ...up, solver: 'euler' }, {
        onStep: (_i, _x, prediction) => {
          previews.push(Array.from(prediction!));
        },
        shouldStop: () => ++calls > 2,
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(previews).toHaveLength(2);
    expect(previews[0]).toEqual(Array.from([0.6, 0.6, -0.6, -0.6, 0.45, 0.45, 0.75, 0.75], Math.fround));
  });

  it('does not modify its inputs', async () => {
    const copies = [images, epsC, noise].map((a) => Float32Array.from(a));
    await upscale(nearestUpscaler(), images, epsC, noise, 2, up);
    expect([images, epsC, noise]).toEqual(copies);
  });
});
