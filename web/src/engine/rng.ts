// Seeded standard-normal noise for the sampler (docs/sampler.md, "Noise and seeds").
//
// The browser has no NumPy generator, so it uses its own: the same seed gives the same image in
// every browser and in Node, but not the same image as the Python runtime (cross-runtime parity is
// checked by feeding the same noise tensor; the golden vectors carry it).
//
// Definition (stable: changing it changes every shared link's image):
// - seed: an unsigned 32-bit integer;
// - state: four 32-bit words from splitmix32(seed), generator sfc32 (Chris Doty-Humphrey's small
//   fast counter), 12 outputs discarded;
// - uniforms: u = (k + 0.5) / 2^32 for each 32-bit output k, so u is in (0, 1) and log(u) is finite;
// - normals: Box-Muller on consecutive pairs (u1, u2): r = sqrt(-2 ln u1),
//   z0 = r cos(2 pi u2), z1 = r sin(2 pi u2), emitted in that order, rounded to float32.

export const MAX_SEED = 0xffffffff;

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32: 32-bit outputs as unsigned integers. */
export function sfc32(seed: number): () => number {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** `n` standard-normal float32 values from `seed`. */
export function randn(seed: number, n: number): Float32Array {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed must be an integer 0..${MAX_SEED}, got ${seed}`);
  }
  const next = sfc32(seed);
  const out = new Float32Array(n);
  const TWO32 = 4294967296;
  for (let i = 0; i < n; i += 2) {
    const u1 = (next() + 0.5) / TWO32;
    const u2 = (next() + 0.5) / TWO32;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** A random seed for the dice button (crypto-quality, not reproducible on purpose). */
export function randomSeed(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0]! % 1_000_000;
}

/** The draws of one generation, all from one seed's stream (docs/sampler.md, "The upscaler stage"). */
export interface GenerationNoise {
  /** (B, 3, S/2, S/2): the base stage's initial noise, values [0, n64) */
  base: Float32Array;
  /** (B, 3, S/2, S/2): the upscaler's condition noise, values [n64, 2 n64); empty at 64 px */
  epsC: Float32Array;
  /** (B, 3, S, S): the upscaler's initial noise, values [2 n64, 2 n64 + n128); empty at 64 px */
  x0: Float32Array;
}

/** How many values of the stream a generation uses: n64, plus n64 + n128 when it is upscaled. */
export function streamLength(batch: number, baseSize: number, upscaledSize: number | null, channels = 3): number {
  const n64 = batch * channels * baseSize * baseSize;
  return upscaledSize === null ? n64 : 2 * n64 + batch * channels * upscaledSize * upscaledSize;
}

/**
 * Splits a stream (`randn(seed, streamLength(...))`, or a given tensor) into the stages' draws.
 * The stream is prefix-stable, so a 128 px cat starts from the same 64 px cat as its seed gives
 * at 64 px.
 */
export function splitStream(stream: Float32Array, batch: number, baseSize: number, upscaledSize: number | null, channels = 3): GenerationNoise {
  const want = streamLength(batch, baseSize, upscaledSize, channels);
  if (stream.length !== want) throw new RangeError(`the noise has ${stream.length} values, this generation uses ${want}`);
  const n64 = batch * channels * baseSize * baseSize;
  return { base: stream.subarray(0, n64), epsC: stream.subarray(n64, upscaledSize === null ? n64 : 2 * n64), x0: stream.subarray(upscaledSize === null ? n64 : 2 * n64) };
}

/** The seeded draws of one generation: the base noise, then (upscaled) eps_c and x0. */
export function generationNoise(seed: number, batch: number, baseSize: number, upscaledSize: number | null, channels = 3): GenerationNoise {
  return splitStream(randn(seed, streamLength(batch, baseSize, upscaledSize, channels)), batch, baseSize, upscaledSize, channels);
}
