// The About page's figures in words: sentences, small tables, per-breed bars and the confusion
// matrix, all read from a manifest entry (docs/manifest.md). Nothing here is a measured number
// of its own; a figure the manifest does not have is left out, never guessed.
//
// Where each figure is read from (every one optional):
// - classifier: metrics.split; metrics.onnx_<variant> (and onnx_<variant>_from_64px for small
//   photos) with top1_breeds, top3_breeds, cat_vs_other, images, and, when present, per_breed
//   ({breed key: accuracy}), confusion (rows: true label, columns: predicted, label-id order),
//   latency_ms (a number, or {median}) — the shape `tinycats eval classifier` reports.
// - generator: metrics.breed_accuracy_mean / _min / _per_breed (or per_breed), fid, kid,
//   fid_n_samples, fid_real_vs_real_reference (or fid_real_vs_real, or fid_reference),
//   judge_accuracy_mean, sampler {steps, cfg_scale, solver, n_per_breed}.
// - upscaler: metrics.psnr_db / fid (or metrics.model.{psnr_db, fid}) and, to compare,
//   metrics.bicubic.{psnr_db, fid}.
// - every model: files (size of each variant), default_variant, params / model.params,
//   sampler.default_steps.

import type { ClassifierEntry, FileEntry, GeneratorEntry, Label, ModelEntry, UpscalerEntry } from './manifest';
import { formatBytes } from './manifest';

type Obj = Record<string, unknown>;

export interface SmallTable {
  head: string[];
  rows: string[][];
}

export interface BreedBar {
  key: string;
  label: string;
  /** a fraction in [0, 1] */
  value: number;
}

export interface Confusion {
  labels: string[];
  /** counts, rows: true label, columns: predicted label */
  counts: number[][];
}

export interface ModelFigures {
  sentences: string[];
  table?: SmallTable;
  perBreed?: { title: string; caption: string; bars: BreedBar[] };
  confusion?: { title: string; caption: string; matrix: Confusion };
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const numOf = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const fraction = (v: unknown): number | undefined => {
  const n = numOf(v);
  return n !== undefined && n >= 0 && n <= 1 ? n : undefined;
};

/** 0.8926 -> "89.3%" (no decimal from 99.95% up or for whole percentages) */
export function percent(p: number): string {
  const x = 100 * p;
  return `${Number.isInteger(Math.round(x * 10) / 10) ? Math.round(x) : x.toFixed(1)}%`;
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 9835171 -> "9.8 million", 3387661 -> "3.4 million", 45000 -> "45,000" */
export function params(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} million` : count(n);
}

function ms(v: unknown): number | undefined {
  return numOf(v) ?? (isObj(v) ? numOf(v.median) : undefined);
}

function displayOf(labels: Label[], key: string): string {
  return labels.find((l) => l.key === key)?.display ?? key.replace(/_/g, ' ');
}

function breedBars(perBreed: unknown, labels: Label[]): BreedBar[] | undefined {
  if (!isObj(perBreed)) return undefined;
  const bars: BreedBar[] = [];
  for (const [key, v] of Object.entries(perBreed)) {
    const value = fraction(v);
    if (value !== undefined) bars.push({ key, label: displayOf(labels, key), value });
  }
  return bars.length ? bars : undefined;
}

function confusionOf(v: unknown, labels: Label[]): Confusion | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.length > labels.length) return undefined;
  const n = v.length;
  const counts: number[][] = [];
  for (const row of v) {
    if (!Array.isArray(row) || row.length !== n || !row.every((c) => numOf(c) !== undefined && (c as number) >= 0)) return undefined;
    counts.push(row as number[]);
  }
  // rows and columns are in label-id order
  const ordered = [...labels].sort((a, b) => a.id - b.id).slice(0, n);
  return { labels: ordered.map((l) => l.display), counts };
}

/** Columns with no value in any row are dropped (a figure the manifest does not have). */
function compact(head: string[], rows: (string | undefined)[][]): SmallTable | undefined {
  const keep = head.map((_, c) => c === 0 || rows.some((r) => r[c] !== undefined));
  if (keep.filter(Boolean).length < 2 || rows.length === 0) return undefined;
  return {
    head: head.filter((_, c) => keep[c]),
    rows: rows.map((r) => r.filter((_, c) => keep[c]).map((x) => x ?? '—')),
  };
}

function sizeOf(f: FileEntry | undefined): string | undefined {
  return f ? formatBytes(f.bytes) : undefined;
}

function paramsOf(entry: ModelEntry): number | undefined {
  const model = entry.extra.model;
  return numOf(entry.extra.params) ?? (isObj(model) ? numOf(model.params) : undefined);
}

function variantNames(entry: ModelEntry): string[] {
  return Object.keys(entry.files);
}

function splitName(split: unknown): string {
  return split === 'oxford-test' || split === undefined ? 'Oxford-IIIT Pet test photos' : `${String(split)} photos`;
}

// ---- classifier ---------------------------------------------------------------------------

/**
 * `variant`: the file whose figures the sentences quote (the one this browser runs); the table
 * has every variant.
 */
export function classifierFigures(entry: ClassifierEntry, variant: string = entry.default_variant): ModelFigures {
  const m = entry.metrics ?? {};
  const block = (v: string, small = false): Obj | undefined => {
    const b = m[`onnx_${v}${small ? '_from_64px' : ''}`];
    return isObj(b) ? b : undefined;
  };
  const names = variantNames(entry);
  const v = block(variant) ? variant : (names.find((n) => block(n)) ?? variant);
  const main = block(v);
  const small = block(v, true);
  const sentences: string[] = [];
  const breeds = entry.labels.filter((l) => l.id !== entry.other_id).length;
  sentences.push(
    `It knows ${breeds} cat breeds and answers "${entry.labels.find((l) => l.id === entry.other_id)?.display ?? 'other'}" for photos that are not a cat.`,
  );
  const top1 = fraction(main?.top1_breeds);
  const n = numOf(main?.images);
  if (top1 !== undefined) {
    const top3 = fraction(main?.top3_breeds);
    sentences.push(
      `On ${n !== undefined ? `${count(n)} ` : 'the '}${splitName(m.split)}, which it never saw while learning, the ${v} file names the right breed ${percent(top1)} of the time` +
        (top3 !== undefined ? `, and has it among its top three guesses ${percent(top3)} of the time.` : '.'),
    );
  }
  const cat = fraction(main?.cat_vs_other);
  if (cat !== undefined) sentences.push(`It tells a cat from something else (the test set's dogs) correctly for ${percent(cat)} of the photos.`);
  const smallTop1 = fraction(small?.top1_breeds);
  if (smallTop1 !== undefined) {
    sentences.push(
      `Small, blurry photos are harder: the same photos shrunk to 64 x 64 pixels and enlarged again get the right breed ${percent(smallTop1)} of the time` +
        (top1 !== undefined ? ` (${percent(top1)} at full size).` : '.'),
    );
  }
  const lat = ms(main?.latency_ms);
  if (lat !== undefined) sentences.push(`One photo takes about ${lat < 10 ? lat.toFixed(1) : Math.round(lat)} ms.`);
  const p = paramsOf(entry);
  const f = entry.files[v] ?? entry.files[entry.default_variant];
  if (f) sentences.push(`The ${v in entry.files ? v : entry.default_variant} file is ${formatBytes(f.bytes)}${p !== undefined ? ` (${params(p)} parameters)` : ''}.`);

  const table = compact(
    ['File', 'Size', 'Right breed', 'Top 3', 'Cat or not', 'Small photos (64 px)', 'Time per photo'],
    names.map((name) => {
      const b = block(name);
      const s = block(name, true);
      const pc = (x: unknown) => (fraction(x) !== undefined ? percent(fraction(x)!) : undefined);
      const t = ms(b?.latency_ms);
      return [
        `${name}${name === entry.default_variant ? ' (default)' : ''}`,
        sizeOf(entry.files[name]),
        pc(b?.top1_breeds),
        pc(b?.top3_breeds),
        pc(b?.cat_vs_other),
        pc(s?.top1_breeds),
        t !== undefined ? `${t.toFixed(1)} ms` : undefined,
      ];
    }),
  );

  const out: ModelFigures = { sentences, ...(table ? { table } : {}) };
  const bars = breedBars(main?.per_breed, entry.labels);
  if (bars) {
    out.perBreed = {
      title: 'Right breed, per breed',
      caption: `The share of each breed's test photos the classifier (${v}) names correctly.`,
      bars,
    };
  }
  const conf = confusionOf(main?.confusion, entry.labels);
  if (conf) {
    out.confusion = {
      title: 'Which breeds it confuses',
      caption: `Each row is the true breed of the test photos, each column what the classifier (${v}) said; the darker the square, the more photos. The diagonal is where it was right.`,
      matrix: conf,
    };
  }
  return out;
}

// ---- generator ----------------------------------------------------------------------------

export function generatorFigures(entry: GeneratorEntry): ModelFigures {
  const m = entry.metrics ?? {};
  const sp = isObj(m.sampler) ? m.sampler : {};
  const breeds = entry.classes.filter((c) => c.id !== entry.null_class);
  const sentences: string[] = [
    `It draws ${entry.image_size} x ${entry.image_size} pixel cats of the kind you pick (${breeds.length} choices), starting from random noise and refining it step by step.`,
  ];
  const acc = fraction(m.breed_accuracy_mean);
  const accMin = fraction(m.breed_accuracy_min);
  // n_per_breed is per seed; an evaluation over several seeds draws that many per breed for each.
  const perSeed = numOf(sp.n_per_breed);
  const nPer = perSeed !== undefined ? perSeed * (Array.isArray(sp.seeds) ? Math.max(1, sp.seeds.length) : 1) : undefined;
  const nAll = numOf(m.fid_n_samples);
  if (acc !== undefined) {
    sentences.push(
      `Shown ${nAll !== undefined ? `${count(nAll)} ` : ''}generated cats${nPer !== undefined ? ` (${count(nPer)} per breed)` : ''}, the breed classifier recognises the breed that was asked for in ${percent(acc)} of them` +
        (accMin !== undefined ? `; for the hardest breed, ${percent(accMin)}.` : '.'),
    );
  }
  const judge = fraction(m.judge_accuracy_mean);
  if (judge !== undefined) sentences.push(`A second, independent judge model agrees with the asked-for breed for ${percent(judge)} of them.`);
  const fid = numOf(m.fid);
  const ref = numOf(m.fid_real_vs_real_reference) ?? numOf(m.fid_real_vs_real) ?? numOf(m.fid_reference);
  if (fid !== undefined) {
    sentences.push(
      `Its FID, a distance between generated and real cat photos (0 would be indistinguishable; lower is better), is ${fid.toFixed(1)}.` +
        (ref !== undefined
          ? ` For scale: two sets of real cat photos score ${ref.toFixed(1)} against each other, which is about the best a model could reach with this many images.`
          : ''),
    );
  }
  const steps = numOf(sp.steps);
  const cfg = numOf(sp.cfg_scale);
  if (steps !== undefined && (acc !== undefined || fid !== undefined)) {
    const solver = sp.solver === 'heun' ? 'Heun ' : sp.solver === 'euler' ? 'Euler ' : '';
    sentences.push(`These were measured with ${steps} ${solver}steps${cfg !== undefined ? ` and guidance ${cfg}` : ''}.`);
  }
  const p = paramsOf(entry);
  const f = entry.files[entry.default_variant];
  if (f) sentences.push(`The ${entry.default_variant} file is ${formatBytes(f.bytes)}${p !== undefined ? ` (${params(p)} parameters)` : ''}.`);

  const kid = numOf(m.kid);
  const rows: (string | undefined)[][] = [
    ['Breed recognised (mean)', acc !== undefined ? percent(acc) : undefined],
    ['Breed recognised (hardest breed)', accMin !== undefined ? percent(accMin) : undefined],
    ['Independent judge (mean)', judge !== undefined ? percent(judge) : undefined],
    ['FID (lower is better)', fid !== undefined ? fid.toFixed(1) : undefined],
    ['FID, real vs real photos', ref !== undefined ? ref.toFixed(1) : undefined],
    ['KID (lower is better)', kid !== undefined ? kid.toFixed(3) : undefined],
    ['Default steps', String(entry.sampler.default_steps)],
    ...variantNames(entry).map((v) => [`File ${v}${v === entry.default_variant ? ' (default)' : ''}`, sizeOf(entry.files[v])]),
  ];
  const table = { head: ['Measure', 'Value'], rows: rows.filter((r) => r[1] !== undefined) as string[][] };

  const out: ModelFigures = { sentences, table };
  const bars = breedBars(m.breed_accuracy_per_breed ?? m.per_breed, entry.classes);
  if (bars) {
    out.perBreed = {
      title: 'Breed recognised, per breed',
      caption: 'The share of generated cats of each breed that the classifier recognises as that breed.',
      bars,
    };
  }
  return out;
}

// ---- upscaler -----------------------------------------------------------------------------

export function upscalerFigures(entry: UpscalerEntry): ModelFigures {
  const m = entry.metrics ?? {};
  const own = isObj(m.model) ? m.model : m;
  const bic = isObj(m.bicubic) ? m.bicubic : {};
  const sentences: string[] = [
    `It enlarges each ${entry.cond_size} px cat to ${entry.image_size} x ${entry.image_size} pixels in ${entry.sampler.default_steps} more step${entry.sampler.default_steps === 1 ? '' : 's'}, drawing in detail that plain resizing cannot.`,
  ];
  const psnr = numOf(own.psnr_db);
  const fid = numOf(own.fid);
  const bPsnr = numOf(bic.psnr_db);
  const bFid = numOf(bic.fid);
  if (psnr !== undefined) {
    sentences.push(
      `Enlarging shrunk real photos, it is ${psnr.toFixed(1)} dB away from the originals (PSNR, higher is closer)` +
        (bPsnr !== undefined ? `; ordinary smooth (bicubic) resizing gets ${bPsnr.toFixed(1)} dB.` : '.'),
    );
  }
  if (fid !== undefined) {
    sentences.push(`FID against real photos ${fid.toFixed(1)}${bFid !== undefined ? ` (bicubic resizing: ${bFid.toFixed(1)})` : ''}; lower is better.`);
  }
  const p = paramsOf(entry);
  const f = entry.files[entry.default_variant];
  if (f) sentences.push(`The ${entry.default_variant} file is ${formatBytes(f.bytes)}${p !== undefined ? ` (${params(p)} parameters)` : ''}.`);
  const rows: (string | undefined)[][] = [
    ['Size', `${entry.cond_size} px → ${entry.image_size} px`],
    ['Steps', String(entry.sampler.default_steps)],
    ['PSNR (higher is better)', psnr !== undefined ? `${psnr.toFixed(1)} dB` : undefined],
    ['PSNR, bicubic resizing', bPsnr !== undefined ? `${bPsnr.toFixed(1)} dB` : undefined],
    ['FID (lower is better)', fid !== undefined ? fid.toFixed(1) : undefined],
    ['FID, bicubic resizing', bFid !== undefined ? bFid.toFixed(1) : undefined],
    ...variantNames(entry).map((v) => [`File ${v}${v === entry.default_variant ? ' (default)' : ''}`, sizeOf(entry.files[v])]),
  ];
  return { sentences, table: { head: ['Measure', 'Value'], rows: rows.filter((r) => r[1] !== undefined) as string[][] } };
}

export function modelFigures(entry: ModelEntry, variant?: string): ModelFigures {
  if (entry.task === 'classify') return classifierFigures(entry, variant);
  if (entry.task === 'generate') return generatorFigures(entry);
  return upscalerFigures(entry);
}
