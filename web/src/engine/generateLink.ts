// The Make-a-cat page's settings and their link form (#/generate?breed=siamese&seed=7&...).
//
// A link is input from anyone: every value is checked (a plain decimal number, finite, in the
// range the page's controls offer, a known breed or variant) and one that fails is replaced by
// its default and named in `notes`, which the page shows. Never NaN in the sampler, never a
// silently different cat. The limits are the controls' own (the sliders read them from here).
import { labelByKey, type GeneratorEntry, type Label, type UpscalerEntry } from './manifest';
import { MAX_SEED } from './rng';
import type { Solver } from './sampler';

export interface Settings {
  breed: number;
  mix: number | null;
  /** the share of the mix breed, 0..1 */
  a: number;
  steps: number;
  cfg: number;
  solver: Solver;
  seed: number;
  n: number;
  /** the image size: the generator's own (64), or the upscaler's (128) when the manifest has one */
  size: number;
  /** a model variant pinned by the link (fp32, fp16, int8); else the backend's choice */
  variant?: string;
}

/** The sizes the page offers: the generator's, then the upscaler's. */
export function imageSizes(e: GeneratorEntry, up: UpscalerEntry | undefined): number[] {
  return up ? [e.image_size, up.image_size] : [e.image_size];
}

export const LIMITS = {
  steps: { min: 1, max: 60 },
  cfg: { min: 1, max: 8 },
  a: { min: 0, max: 1 },
  seed: { min: 0, max: MAX_SEED },
} as const;
export const BATCHES = [1, 4, 9];
export const DEFAULT_SEED = 42;
const DEFAULT_A = 0.5;

export interface Parsed {
  settings: Settings;
  /** one line per value of the link that was not used, and why */
  notes: string[];
}

// Number() also accepts '', ' 7', '0x10', 'Infinity': a link carries plain decimals only
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function parseGenerateLink(p: URLSearchParams, e: GeneratorEntry, choices: Label[], up?: UpscalerEntry): Parsed {
  const notes: string[] = [];
  const reject = (k: string, why: string, used: string | number) => notes.push(`${k}=${p.get(k)}: ${why}; using ${used}`);
  const number = (k: keyof typeof LIMITS, d: number, whole: boolean): number => {
    const raw = p.get(k);
    if (raw === null) return d;
    const v = DECIMAL.test(raw) ? Number(raw) : NaN;
    const { min, max } = LIMITS[k];
    if (!Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(v))) {
      reject(k, `must be a ${whole ? 'whole number' : 'number'} from ${min} to ${max}`, d);
      return d;
    }
    return v;
  };
  const label = (k: string, d: Label | null): Label | null => {
    const raw = p.get(k);
    if (raw === null || raw === '') return d;
    const l = labelByKey(choices, raw);
    if (!l) reject(k, 'not a breed this model makes', d?.display ?? 'none');
    return l ?? d;
  };

  // the model's own first impression (manifest `showcase`), else the first breed
  const first = (e.showcase && labelByKey(choices, e.showcase.class)) || choices[0]!;
  const breed = label('breed', first)!;
  let mix = label('mix', null);
  if (mix && mix.id === breed.id) {
    reject('mix', 'the same breed as breed', 'none');
    mix = null;
  }
  let solver = e.sampler.solver;
  const rawSolver = p.get('solver');
  if (rawSolver === 'euler' || rawSolver === 'heun') solver = rawSolver;
  else if (rawSolver !== null) reject('solver', 'must be euler or heun', solver);
  let n = 1;
  if (p.get('n') !== null) {
    const v = Number(p.get('n'));
    if (BATCHES.includes(v) && DECIMAL.test(p.get('n')!)) n = v;
    else reject('n', `must be ${BATCHES.join(', ')}`, n);
  }
  // the upscaled size when there is an upscaler: the best cat this manifest makes
  const sizes = imageSizes(e, up);
  let size = sizes[sizes.length - 1]!;
  const rawSize = p.get('size');
  if (rawSize !== null) {
    const v = Number(rawSize);
    if (DECIMAL.test(rawSize) && sizes.includes(v)) size = v;
    else reject('size', sizes.length > 1 ? `must be ${sizes.join(' or ')}` : `this model makes ${e.image_size} px cats only (no upscaler)`, size);
  }
  let variant: string | undefined;
  const rawVariant = p.get('variant');
  if (rawVariant !== null && rawVariant in e.files) variant = rawVariant;
  else if (rawVariant !== null) reject('variant', `not a variant of this model (${Object.keys(e.files).join(', ')})`, 'the default');
  // the time-grid shift belongs to the model (manifest), not to a link
  if (p.get('shift') !== null) reject('shift', 'links cannot set it', `the model's ${e.sampler.shift}`);
  const a = number('a', DEFAULT_A, false);
  const steps = number('steps', e.sampler.default_steps, true);
  const cfg = number('cfg', e.sampler.default_cfg_scale, false);
  const seed = number('seed', e.showcase?.seed ?? DEFAULT_SEED, true);
  return { settings: { breed: breed.id, mix: mix?.id ?? null, a, steps, cfg, solver, seed, n, size, variant }, notes };
}

export function generateLink(s: Settings, classes: Label[]): Record<string, string> {
  const out: Record<string, string> = { breed: classes[s.breed]!.key };
  if (s.mix !== null) {
    out.mix = classes[s.mix]!.key;
    out.a = String(s.a);
  }
  Object.assign(out, { steps: String(s.steps), cfg: String(s.cfg), solver: s.solver, seed: String(s.seed), n: String(s.n), size: String(s.size) });
  if (s.variant) out.variant = s.variant;
  return out;
}
