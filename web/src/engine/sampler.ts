// The generator's sampling contract (docs/sampler.md), in TypeScript. Same formulas, same order
// as src/tinycats/generator/flow.py and src/tinycats/runtime/sample.py; checked against the
// Python golden vectors in test/golden.test.ts.
//
// - time t runs from 0 (noise) to 1 (image); the network takes t in [0, 1] unscaled;
// - x-prediction: v = (out - x_t) / max(1 - t, t_eps); v-prediction: v = out;
// - classifier-free guidance exactly once, here: conditional and null rows as ONE batch of 2B,
//   v = v_null + s (v_cond - v_null); with s = 1 only the conditional half runs;
// - grid t_i = i / N (warped by shift when shift != 1); Euler or Heun (the last step of Heun,
//   which ends at t = 1, is an Euler step); the final image is clipped to [-1, 1].
//
// The 64 -> 128 px upscaler (docs/sampler.md, "The upscaler stage") runs through the same
// integration (`integrate`): its velocity is the x-prediction conversion above, without guidance,
// and its network takes the noised 64 px image `cond = x64 + s eps_c` and the level `s` (no class
// weights).

export type Prediction = 'x' | 'v';
export type Solver = 'euler' | 'heun';

/** The network: x (B*D), t (B), y (B*K) -> out (B*D). */
export type Denoiser = (x: Float32Array, t: Float32Array, y: Float32Array, batch: number) => Promise<Float32Array>;

export interface SamplerOptions {
  steps: number;
  cfgScale: number;
  solver: Solver;
  shift: number;
  prediction: Prediction;
  tEps: number;
}

/** The upscaler network: x (B*D), t (B), cond (B*Dc), s (B) -> out (B*D). */
export type UpscaleDenoiser = (x: Float32Array, t: Float32Array, cond: Float32Array, s: Float32Array, batch: number) => Promise<Float32Array>;

/** The time grid and the solver: what both stages share. */
export interface IntegrateOptions {
  steps: number;
  solver: Solver;
  shift: number;
}

export interface UpscaleOptions extends IntegrateOptions {
  /** the condition's noise level (the manifest's sampler.s) */
  s: number;
  tEps: number;
}

/** v(x, t) of a stage: the (guided) velocity of its network at one time. */
export type Velocity = (x: Float32Array, t: number) => Promise<Float32Array>;

export interface SamplerHooks {
  /** After each step: i in 0..steps-1, x = x_{i+1} (not yet clipped); `prediction` is the
   * network's latest clean-image estimate, for stages that report one (the upscaler). */
  onStep?: (i: number, x: Float32Array, prediction?: Float32Array) => void | Promise<void>;
  /** Checked before every network call; true stops with a CancelledError. */
  shouldStop?: () => boolean;
}

export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor() {
    super('cancelled');
  }
}

export function timeGrid(steps: number, shift = 1): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const ts: number[] = [];
  for (let i = 0; i <= steps; i++) ts.push(i / steps);
  if (shift !== 1) return ts.map((t) => t / (t + shift * (1 - t)));
  return ts;
}

/** Network evaluations of one sample (each a batch of B, or 2B with guidance). */
export function networkCalls(steps: number, solver: Solver): number {
  return solver === 'heun' ? 2 * steps - 1 : steps;
}

export function oneHot(k: number, id: number): Float32Array {
  if (id < 0 || id >= k) throw new RangeError(`class ${id} is not in 0..${k - 1}`);
  const y = new Float32Array(k);
  y[id] = 1;
  return y;
}

/** Convex combination of one-hot rows: weights are normalised to sum to 1. */
export function classWeights(k: number, parts: ReadonlyArray<readonly [number, number]>): Float32Array {
  const y = new Float32Array(k);
  let total = 0;
  for (const [id, w] of parts) {
    if (id < 0 || id >= k) throw new RangeError(`class ${id} is not in 0..${k - 1}`);
    if (!(w >= 0)) throw new RangeError(`class weight must be >= 0, got ${w}`);
    total += w;
  }
  if (!(total > 0)) throw new RangeError('class weights sum to 0');
  for (const [id, w] of parts) y[id] = (y[id] ?? 0) + w / total;
  return y;
}

/** Repeat one row `times` times. */
export function tile(row: Float32Array, times: number): Float32Array {
  const out = new Float32Array(row.length * times);
  for (let b = 0; b < times; b++) out.set(row, b * row.length);
  return out;
}

/** Velocity from the network output (per-sample t). */
export function toVelocity(out: Float32Array, xt: Float32Array, t: Float32Array, prediction: Prediction, tEps: number): Float32Array {
  if (prediction === 'v') return out;
  const batch = t.length;
  const d = out.length / batch;
  const v = new Float32Array(out.length);
  for (let b = 0; b < batch; b++) {
    const denom = Math.max(Math.fround(1 - t[b]!), Math.fround(tEps));
    const o = b * d;
    for (let j = 0; j < d; j++) v[o + j] = (out[o + j]! - xt[o + j]!) / denom;
  }
  return v;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** v(x, t) with classifier-free guidance; y is (B*K) class weights, yNull one row (K). */
export async function guidedVelocity(
  model: Denoiser,
  x: Float32Array,
  t: number,
  y: Float32Array,
  yNull: Float32Array,
  batch: number,
  cfgScale: number,
  prediction: Prediction,
  tEps: number,
): Promise<Float32Array> {
  if (cfgScale === 1) {
    const tt = new Float32Array(batch).fill(t);
    return toVelocity(await model(x, tt, y, batch), x, tt, prediction, tEps);
  }
  const xx = concat(x, x);
  const tt = new Float32Array(2 * batch).fill(t);
  const yy = concat(y, tile(yNull, batch));
  const v = toVelocity(await model(xx, tt, yy, 2 * batch), xx, tt, prediction, tEps);
  const n = x.length;
  const out = new Float32Array(n);
  const s = Math.fround(cfgScale);
  for (let j = 0; j < n; j++) {
    const vc = v[j]!;
    const vn = v[n + j]!;
    out[j] = vn + s * Math.fround(vc - vn);
  }
  return out;
}

/**
 * Euler or Heun from `noise` (t = 0) to images (t = 1) over the (shifted) grid; returns the
 * clipped x_N. Both stages run through here, the generator with its guided velocity and the
 * upscaler with its conditioned one (one place for the solver formulas).
 */
export async function integrate(velocity: Velocity, noise: Float32Array, opts: IntegrateOptions, hooks: SamplerHooks = {}): Promise<Float32Array> {
  const ts = timeGrid(opts.steps, opts.shift);
  const v = (xx: Float32Array, t: number) => {
    if (hooks.shouldStop?.()) throw new CancelledError();
    return velocity(xx, t);
  };
  let x = Float32Array.from(noise);
  const n = x.length;
  for (let i = 0; i < opts.steps; i++) {
    const t0 = ts[i]!;
    const t1 = ts[i + 1]!;
    const dt = Math.fround(t1 - t0);
    const v1 = await v(x, t0);
    const next = new Float32Array(n);
    if (opts.solver === 'heun' && t1 < 1) {
      const xe = new Float32Array(n);
      for (let j = 0; j < n; j++) xe[j] = x[j]! + dt * v1[j]!;
      const v2 = await v(xe, t1);
      const half = Math.fround(dt * 0.5);
      for (let j = 0; j < n; j++) next[j] = x[j]! + half * Math.fround(v1[j]! + v2[j]!);
    } else {
      for (let j = 0; j < n; j++) next[j] = x[j]! + dt * v1[j]!;
    }
    x = next;
    await hooks.onStep?.(i, x);
  }
  for (let j = 0; j < n; j++) x[j] = Math.min(1, Math.max(-1, x[j]!));
  return x;
}

/** Integrate from noise (t = 0) to an image (t = 1); returns the clipped x_N (B*D). */
export async function sample(
  model: Denoiser,
  noise: Float32Array,
  y: Float32Array,
  yNull: Float32Array,
  batch: number,
  opts: SamplerOptions,
  hooks: SamplerHooks = {},
): Promise<Float32Array> {
  if (noise.length % batch !== 0) throw new RangeError('noise length is not a multiple of the batch');
  if (y.length !== batch * yNull.length) throw new RangeError('y must be (batch, K) with K = yNull.length');
  const velocity = (x: Float32Array, t: number) => guidedVelocity(model, x, t, y, yNull, batch, opts.cfgScale, opts.prediction, opts.tEps);
  return integrate(velocity, noise, opts, hooks);
}

/** The upscaler's condition: the base stage's final images noised once, cond = x64 + s eps_c
 * (float32, like the Python runtime). */
export function upscaleCondition(images: Float32Array, epsC: Float32Array, s: number): Float32Array {
  if (epsC.length !== images.length) throw new RangeError(`eps_c has ${epsC.length} values, the images ${images.length}`);
  const sf = Math.fround(s);
  const cond = new Float32Array(images.length);
  for (let j = 0; j < cond.length; j++) cond[j] = images[j]! + Math.fround(sf * epsC[j]!);
  return cond;
}

/**
 * The upscaler stage: from the base stage's final `images` (B*Dc, in [-1, 1]), its draws `epsC`
 * (B*Dc) and `noise` (B*D), integrate the upscaler without guidance; returns the clipped
 * (B, 3, S, S) images. `onStep` also gets the network's latest clean-image estimate: early on x_t
 * is mostly fresh noise, while the estimate already shows the 128 px cat sharpening.
 */
export async function upscale(
  model: UpscaleDenoiser,
  images: Float32Array,
  epsC: Float32Array,
  noise: Float32Array,
  batch: number,
  opts: UpscaleOptions,
  hooks: SamplerHooks = {},
): Promise<Float32Array> {
  if (noise.length % batch !== 0 || images.length % batch !== 0) throw new RangeError('images and noise must hold `batch` images each');
  const cond = upscaleCondition(images, epsC, opts.s);
  const s = new Float32Array(batch).fill(opts.s);
  let latest: Float32Array | undefined;
  const velocity = async (x: Float32Array, t: number) => {
    const tt = new Float32Array(batch).fill(t);
    latest = await model(x, tt, cond, s, batch);
    return toVelocity(latest, x, tt, 'x', opts.tEps);
  };
  const onStep = hooks.onStep;
  return integrate(velocity, noise, opts, { shouldStop: hooks.shouldStop, onStep: onStep && ((i, x) => onStep(i, x, latest)) });
}
