// The About page's figures in words (src/engine/figures.ts): read from the manifest, never
// raw keys, and a figure the manifest lacks is left out.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifierFigures, generatorFigures, percent, upscalerFigures } from '../src/engine/figures';
import { parseManifest } from '../src/engine/manifest';
import { sampleManifest } from './helpers';

type M = ReturnType<typeof sampleManifest> & { models: Record<string, Record<string, unknown>> };
const edit = (fn: (m: M) => void) => {
  const m = sampleManifest() as M;
  fn(m);
  return parseManifest(m);
};
const RAW_KEY = /onnx_|top1_breeds|top3_breeds|cat_vs_other|_from_64px|breed_accuracy|fid_n_samples|undefined|NaN/;
const BREEDS = ['abyssinian', 'bengal', 'birman', 'bombay', 'british_shorthair', 'egyptian_mau', 'maine_coon', 'persian', 'ragdoll', 'russian_blue', 'siamese', 'sphynx'];

const clfMetrics = {
  split: 'oxford-test',
  onnx_fp32: { top1_breeds: 0.8926, top3_breeds: 0.973, cat_vs_other: 0.9945, ece: 0.1474, images: 1283 },
  onnx_fp32_from_64px: { top1_breeds: 0.8225, top3_breeds: 0.951, cat_vs_other: 0.9852, ece: 0.1019, images: 1283 },
  onnx_int8: { top1_breeds: 0.8876, top3_breeds: 0.9704, cat_vs_other: 0.9953, ece: 0.1498, images: 1283 },
};

describe('percent', () => {
  it('one decimal, none for whole numbers', () => {
    expect(percent(0.8926)).toBe('89.3%');
    expect(percent(0.77)).toBe('77%');
    expect(percent(1)).toBe('100%');
    expect(percent(0.40625)).toBe('40.6%');
  });
});

describe('classifier figures', () => {
  it('sentences with the count of test photos, small photos, size; a table per variant', () => {
    const e = edit((m) => (m.models.classifier!.metrics = clfMetrics)).models.classifier!;
    const f = classifierFigures(e, 'fp32');
    const text = f.sentences.join(' ');
    expect(text).toContain('On 1,283 Oxford-IIIT Pet test photos');
    expect(text).toContain('89.3%');
    expect(text).toContain('97.3%');
    expect(text).toContain('99.5%');
    expect(text).toMatch(/64 x 64 pixels .* 82\.3%/);
    expect(text).not.toMatch(RAW_KEY);
    expect(f.table!.head).toEqual(['File', 'Size', 'Right breed', 'Top 3', 'Cat or not', 'Small photos (64 px)']);
    expect(f.table!.rows).toEqual([
      ['fp32', '10 B', '89.3%', '97.3%', '99.5%', '82.3%'],
      ['int8 (default)', '10 B', '88.8%', '97%', '99.5%', '—'],
    ]);
    // no per-breed figures or confusion matrix in these metrics: none shown
    expect(f.perBreed).toBeUndefined();
    expect(f.confusion).toBeUndefined();
  });

  it('per-breed bars, a confusion matrix in label order, and the time per photo when the manifest has them', () => {
    const per = Object.fromEntries(BREEDS.map((b, i) => [b, (70 + 2 * i) / 100]));
    const confusion = Array.from({ length: 13 }, (_, i) => Array.from({ length: 13 }, (_, j) => (i === j ? 90 : 1)));
    const e = edit((m) => (m.models.classifier!.metrics = { ...clfMetrics, onnx_fp32: { ...clfMetrics.onnx_fp32, per_breed: per, confusion, latency_ms: { median: 26.4 } } })).models.classifier!;
    const f = classifierFigures(e, 'fp32');
    expect(f.perBreed!.bars).toHaveLength(12);
    expect(f.perBreed!.bars[4]).toEqual({ key: 'british_shorthair', label: 'british shorthair', value: 0.78 });
    expect(f.confusion!.matrix.labels[12]).toBe('other');
    expect(f.confusion!.matrix.counts[3]![3]).toBe(90);
    expect(f.table!.head).toContain('Time per photo');
    expect(f.sentences.join(' ')).toContain('about 26 ms');
  });

  it('a malformed confusion matrix or per-breed entry is left out, not drawn wrong', () => {
    const e = edit(
      (m) => (m.models.classifier!.metrics = { ...clfMetrics, onnx_fp32: { ...clfMetrics.onnx_fp32, per_breed: { bengal: 7, siamese: 'x' }, confusion: [[1, 2], [3]] } }),
    ).models.classifier!;
    const f = classifierFigures(e, 'fp32');
    expect(f.perBreed).toBeUndefined();
    expect(f.confusion).toBeUndefined();
  });

  it('no metrics: what the model is and its size, no empty claims', () => {
    const e = edit((m) => delete m.models.classifier!.metrics).models.classifier!;
    const f = classifierFigures(e);
    expect(f.sentences.join(' ')).toMatch(/knows 12 cat breeds/);
    expect(f.sentences.join(' ')).not.toMatch(/%|test photos/);
    expect(f.table!.head).toEqual(['File', 'Size']);
  });

  it('quotes the variant asked for, else one that was measured', () => {
    const e = edit((m) => (m.models.classifier!.metrics = { onnx_int8: clfMetrics.onnx_int8 })).models.classifier!;
    expect(classifierFigures(e, 'fp32').sentences.join(' ')).toContain('88.8%');
  });
});

describe('generator figures', () => {
  const genMetrics = {
    breed_accuracy_mean: 0.7708333333333334,
    breed_accuracy_min: 0.40625,
    fid: 132.6347604989027,
    fid_n_samples: 384,
    kid: 0.06847781924780105,
    sampler: { steps: 10, cfg_scale: 5.0, solver: 'heun', shift: 3.0, seed: 1234, n_per_breed: 32 },
    measured_by: 'tinycats eval generator',
  };

  it('breed accuracy, FID, how it was measured, size', () => {
    const e = edit((m) => (m.models.generator!.metrics = genMetrics)).models.generator!;
    const f = generatorFigures(e);
    const text = f.sentences.join(' ');
    expect(text).toContain('384 generated cats (32 per breed)');
    expect(text).toContain('77.1%');
    expect(text).toContain('40.6%');
    expect(text).toContain('132.6');
    expect(text).toContain('10 Heun steps and guidance 5');
    expect(text).not.toMatch(/real cat photos score/);
    expect(text).not.toMatch(RAW_KEY);
    expect(f.table!.rows).toContainEqual(['FID (lower is better)', '132.6']);
    expect(f.table!.rows).toContainEqual(['KID (lower is better)', '0.068']);
    expect(f.perBreed).toBeUndefined();
  });

  it('the real-vs-real FID reference gets its one line; per-breed bars', () => {
    const per = Object.fromEntries(BREEDS.map((b) => [b, 0.5]));
    const e = edit((m) => (m.models.generator!.metrics = { ...genMetrics, fid_real_vs_real_reference: 41.25, breed_accuracy_per_breed: per })).models.generator!;
    const f = generatorFigures(e);
    expect(f.sentences.join(' ')).toContain('two sets of real cat photos score 41.3 against each other');
    expect(f.table!.rows).toContainEqual(['FID, real vs real photos', '41.3']);
    expect(f.perBreed!.bars).toHaveLength(12);
  });

  it('cats per breed count every seed of the evaluation', () => {
    const sampler = { steps: 10, cfg_scale: 5.0, solver: 'heun', shift: 3.0, seeds: [1234, 99], n_per_breed: 64 };
    const e = edit((m) => (m.models.generator!.metrics = { ...genMetrics, sampler, fid_n_samples: 1536 })).models.generator!;
    expect(generatorFigures(e).sentences.join(' ')).toContain('1,536 generated cats (128 per breed)');
  });

  it('no metrics: sizes and steps only', () => {
    const f = generatorFigures(parseManifest(sampleManifest()).models.generator!);
    expect(f.sentences.join(' ')).not.toMatch(/%|FID/);
    expect(f.table!.rows.map((r) => r[0])).toEqual(['Default steps', 'File fp32 (default)', 'File fp16', 'File int8']);
  });
});

describe('upscaler figures', () => {
  it('sizes, steps, parameters; PSNR and FID against bicubic when measured', () => {
    const plain = upscalerFigures(parseManifest(sampleManifest()).models.upscaler!);
    expect(plain.sentences.join(' ')).toContain('64 px cat to 128 x 128 pixels in 6 more steps');
    expect(plain.sentences.join(' ')).toContain('1.7 million parameters');
    expect(plain.sentences.join(' ')).not.toMatch(/PSNR|FID/);
    const e = edit((m) => (m.models.upscaler!.metrics = { model: { psnr_db: 32.857, fid: 19.79 }, bicubic: { psnr_db: 32.1, fid: 20.0 } })).models.upscaler!;
    const f = upscalerFigures(e);
    expect(f.sentences.join(' ')).toContain('32.9 dB');
    expect(f.sentences.join(' ')).toContain('bicubic) resizing gets 32.1 dB');
    expect(f.table!.rows).toContainEqual(['FID, bicubic resizing', '20.0']);
  });
});

describe('the shipped manifest', () => {
  it('every model gets sentences without raw keys', () => {
    const m = parseManifest(JSON.parse(readFileSync(new URL('../public/models/manifest.json', import.meta.url), 'utf8')));
    const all = [
      ...(m.models.classifier ? classifierFigures(m.models.classifier, 'fp32').sentences : []),
      ...(m.models.generator ? generatorFigures(m.models.generator).sentences : []),
      ...(m.models.upscaler ? upscalerFigures(m.models.upscaler).sentences : []),
    ];
    expect(all.length).toBeGreaterThan(0);
    for (const s of all) expect(s).not.toMatch(RAW_KEY);
  });
});
