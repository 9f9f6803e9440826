// Running the models with an onnxruntime module: used by the worker (onnxruntime-web in the
// browser) and by the Vitest parity tests (onnxruntime-web under Node). Pure glue: tensor shapes
// and names come from the manifest.

import type * as OrtNS from 'onnxruntime-web';
import type { ClassifierEntry, GeneratorEntry, UpscalerEntry } from './manifest';
import type { Denoiser, UpscaleDenoiser } from './sampler';

export type Ort = typeof OrtNS;
export type Session = OrtNS.InferenceSession;

// float16 <-> float32 for fp16 models whose inputs/outputs are float16
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToF16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return half;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function inputType(session: Session, name: string): string {
  const meta = (session as unknown as { inputMetadata?: ReadonlyArray<{ name: string; type?: string; isTensor?: boolean }> }).inputMetadata;
  const m = meta?.find((x) => x.name === name);
  return m?.type ?? 'float32';
}

function makeTensor(ort: Ort, session: Session, name: string, data: Float32Array, dims: number[]): OrtNS.Tensor {
  if (inputType(session, name) === 'float16') {
    const h = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) h[i] = f32ToF16(data[i]!);
    return new ort.Tensor('float16', h, dims);
  }
  return new ort.Tensor('float32', data, dims);
}

export async function readFloat32(t: OrtNS.Tensor): Promise<Float32Array> {
  const data = t.location === 'cpu' || t.location === undefined ? t.data : await t.getData();
  if (data instanceof Float32Array) return data;
  if (t.type === 'float16') {
    const src = data as ArrayLike<number>;
    const out = new Float32Array(src.length);
    // Uint16Array holds raw bits; a native Float16Array holds values
    if (data instanceof Uint16Array) for (let i = 0; i < src.length; i++) out[i] = f16ToF32(src[i]!);
    else for (let i = 0; i < src.length; i++) out[i] = src[i]!;
    return out;
  }
  throw new Error(`unexpected output type ${t.type}`);
}

export function makeDenoiser(ort: Ort, session: Session, entry: GeneratorEntry): Denoiser {
  const s = entry.image_size;
  const k = entry.classes.length;
  return async (x, t, y, batch) => {
    const feeds: Record<string, OrtNS.Tensor> = {
      [entry.inputs.x]: makeTensor(ort, session, entry.inputs.x, x, [batch, 3, s, s]),
      [entry.inputs.t]: makeTensor(ort, session, entry.inputs.t, t, [batch]),
      [entry.inputs.y]: makeTensor(ort, session, entry.inputs.y, y, [batch, k]),
    };
    const out = await session.run(feeds);
    const o = out[entry.output];
    if (!o) throw new Error(`the generator has no output "${entry.output}"`);
    const data = await readFloat32(o);
    for (const v of Object.values(out)) v.dispose?.();
    return data;
  };
}

/** One upscaler call: x (B,3,S,S), t (B), cond (B,3,S/2,S/2), s (B) -> out (B,3,S,S). */
export function makeUpscaler(ort: Ort, session: Session, entry: UpscalerEntry): UpscaleDenoiser {
  const s = entry.image_size;
  const c = entry.cond_size;
  const names = entry.inputs;
  checkFedInputs(session, names);
  return async (x, t, cond, level, batch) => {
    const feeds: Record<string, OrtNS.Tensor> = {
      [names.x]: makeTensor(ort, session, names.x, x, [batch, 3, s, s]),
      [names.t]: makeTensor(ort, session, names.t, t, [batch]),
      [names.cond]: makeTensor(ort, session, names.cond, cond, [batch, 3, c, c]),
      [names.s]: makeTensor(ort, session, names.s, level, [batch]),
    };
    const out = await session.run(feeds);
    const o = out[entry.output];
    if (!o) throw new Error(`the upscaler has no output "${entry.output}"`);
    const data = await readFloat32(o);
    for (const v of Object.values(out)) v.dispose?.();
    return data;
  };
}

/** Every input of the upscaler's graph must be one the manifest names, since only those are fed:
 * a graph that takes more (an export of another design) is refused here, once, with its names,
 * instead of failing on every call. */
function checkFedInputs(session: Session, names: UpscalerEntry['inputs']): void {
  const fed = new Set<string>(Object.values(names));
  const unfed = session.inputNames.filter((n) => !fed.has(n));
  if (unfed.length) throw new Error(`the upscaler's graph also takes ${unfed.map((n) => `"${n}"`).join(', ')}, which this app does not feed`);
}

export interface ClassifierOutput {
  probs: Float32Array;
  cam?: Float32Array;
  camShape?: [number, number];
}

export async function runClassifier(ort: Ort, session: Session, entry: ClassifierEntry, tensor: Float32Array, batch: number): Promise<ClassifierOutput> {
  const s = entry.input.size;
  const feeds = { [entry.input.name]: makeTensor(ort, session, entry.input.name, tensor, [batch, 3, s, s]) };
  const wanted = [entry.outputs.probs, ...(entry.outputs.cam && session.outputNames.includes(entry.outputs.cam) ? [entry.outputs.cam] : [])];
  const out = await session.run(feeds, wanted);
  const p = out[entry.outputs.probs];
  if (!p) throw new Error(`the classifier has no output "${entry.outputs.probs}"`);
  const result: ClassifierOutput = { probs: await readFloat32(p) };
  const c = entry.outputs.cam ? out[entry.outputs.cam] : undefined;
  if (c) {
    result.cam = await readFloat32(c);
    const dims = c.dims;
    result.camShape = [Number(dims[2]), Number(dims[3])];
  }
  return result;
}
