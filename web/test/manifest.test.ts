import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseUpscalerVariant, chooseVariant, labelByKey, ManifestError, parseManifest, type ClassifierEntry, type GeneratorEntry, type UpscalerEntry, optimizationFor } from '../src/engine/manifest';
import { sampleManifest } from './helpers';

type M = ReturnType<typeof sampleManifest> & { models: Record<string, Record<string, unknown>> };
const edit = (fn: (m: M) => void) => {
  const m = sampleManifest() as M;
  fn(m);
  return m;
};

describe('manifest parsing', () => {
  it('reads labels, input, sampler and files', () => {
    const m = parseManifest(sampleManifest());
    expect(m.models.classifier!.labels).toHaveLength(13);
    expect(m.models.classifier!.labels[12]!.key).toBe('other');
    expect(m.models.classifier!.input.size).toBe(224);
    expect(m.models.classifier!.other_threshold).toBe(0.5);
    expect(m.models.classifier!.unsure_below).toBeUndefined();
    expect(m.models.classifier!.extra).toEqual({ temperature: 0.7 });
    const g = m.models.generator!;
    expect(g.null_class).toBe(13);
    expect(g.sampler).toEqual({ time: 't0_noise_t1_data', t_eps: 0.05, default_steps: 20, default_cfg_scale: 3, solver: 'heun', shift: 1 });
    expect(g.files.fp16!.file).toBe('generator-fp16.onnx');
  });

  it('reads the upscaler: sizes, inputs, its sampler with the condition noise level', () => {
    const u = parseManifest(sampleManifest()).models.upscaler!;
    expect([u.task, u.image_size, u.cond_size, u.prediction]).toEqual(['upscale', 128, 64, 'x']);
    expect(u.inputs).toEqual({ x: 'x', t: 't', cond: 'cond', s: 's' });
    expect(u.sampler).toEqual({ time: 't0_noise_t1_data', t_eps: 0.05, default_steps: 6, solver: 'heun', shift: 1, s: 0.05 });
    expect(u.files.fp16!.file).toBe('upscaler-fp16.onnx');
    expect(u.extra).toEqual({ model: { params: 1668660 } });
  });

  it('reads "unblock": absent is false, a boolean as it is, anything else refused', () => {
    expect(parseManifest(sampleManifest()).models.classifier!.input.unblock).toBe(false);
    const input = (v: unknown) => edit((m) => ((m.models.classifier!.input as Record<string, unknown>).unblock = v));
    expect(parseManifest(input(true)).models.classifier!.input.unblock).toBe(true);
    expect(parseManifest(input(false)).models.classifier!.input.unblock).toBe(false);
    expect(() => parseManifest(input('yes'))).toThrow('"unblock" must be true or false');
  });

  it('reads the unsure threshold: a number in [0, 1], not an extra field; null is absent', () => {
    for (const v of [0, 0.62, 1]) {
      const c = parseManifest(edit((m) => (m.models.classifier!.unsure_below = v))).models.classifier!;
      expect(c.unsure_below).toBe(v);
      expect(c.extra).not.toHaveProperty('unsure_below');
    }
    expect(parseManifest(edit((m) => (m.models.classifier!.unsure_below = null))).models.classifier!.unsure_below).toBeUndefined();
  });

  it('reads only the four inputs it feeds; a field it does not interpret is an extra, like any other', () => {
    const u = parseManifest(edit((m) => Object.assign(m.models.upscaler!, { breed: false, inputs: { x: 'x', t: 't', cond: 'cond', s: 's', y: 'y' } }))).models.upscaler!;
    expect(u.inputs).toEqual({ x: 'x', t: 't', cond: 'cond', s: 's' });
    expect(u.extra).toEqual({ breed: false, model: { params: 1668660 } });
  });

  it('works without an upscaler (64 px cats only)', () => {
    const m = parseManifest(edit((m) => delete m.models.upscaler));
    expect(m.models.upscaler).toBeUndefined();
    expect(m.models.generator!.image_size).toBe(64);
  });

  it('accepts a manifest with only one model', () => {
    const m = parseManifest(
      edit((m) => {
        delete m.models.generator;
        delete m.models.upscaler;
      }),
    );
    expect(m.models.generator).toBeUndefined();
  });

  const bad: [string, (m: M) => void, RegExp][] = [
    ['not a manifest', (m) => (m.format = 'other'), /format/],
    ['a newer version', (m) => (m.version = 2), /version/],
    ['a bad sha256', (m) => ((m.models.classifier!.files as Record<string, { sha256: string }>).fp32!.sha256 = 'xyz'), /sha256/],
    ['a path in a file name', (m) => ((m.models.classifier!.files as Record<string, { file: string }>).fp32!.file = '../x.onnx'), /bad file name/],
    ['a default variant that is not shipped', (m) => (m.models.generator!.default_variant = 'bf16'), /default_variant/],
    ['labels out of order', (m) => ((m.models.classifier!.labels as { id: number }[])[3]!.id = 7), /out of order/],
    ['an unknown time convention', (m) => ((m.models.generator!.sampler as Record<string, unknown>).time = 't1_noise'), /time convention/],
    ['an unknown prediction type', (m) => (m.models.generator!.prediction = 'eps'), /prediction/],
    ['a null class out of range', (m) => (m.models.generator!.null_class = 14), /null_class/],
    ['an unsure threshold above 1', (m) => (m.models.classifier!.unsure_below = 1.5), /models.classifier: "unsure_below" must be between 0 and 1, not 1.5/],
    ['a negative unsure threshold', (m) => (m.models.classifier!.unsure_below = -0.1), /"unsure_below" must be between 0 and 1/],
    ['an unsure threshold as a string', (m) => (m.models.classifier!.unsure_below = '0.6'), /models.classifier: "unsure_below" must be a number/],
    ['std of zero', (m) => ((m.models.classifier!.input as Record<string, unknown>).std = [0.5, 0, 0.5]), /std/],
  ];
  for (const [what, fn, msg] of bad) {
    it(`refuses ${what}`, () => {
      expect(() => parseManifest(edit(fn))).toThrow(ManifestError);
      expect(() => parseManifest(edit(fn))).toThrow(msg);
    });
  }

  it('parses the shipped manifest, if the models are exported', () => {
    const url = new URL('../public/models/manifest.json', import.meta.url);
    if (!existsSync(url)) return;
    const m = parseManifest(JSON.parse(readFileSync(url, 'utf8')));
    expect(Object.keys(m.models).length).toBeGreaterThan(0);
  });
});

describe('variant choice', () => {
  const m = parseManifest(sampleManifest());
  const g = m.models.generator!;
  const c = m.models.classifier!;
  it('WASM: the default, but never fp16, and a classifier in fp32 (int8 convolutions are slower in WASM)', () => {
    expect(chooseVariant(c, 'wasm', false)).toBe('fp32');
    expect(chooseVariant({ ...c, files: { int8: c.files.int8! } } as ClassifierEntry, 'wasm', false)).toBe('int8');
    expect(chooseVariant(g, 'wasm', true)).toBe('fp32');
    expect(chooseVariant({ ...g, default_variant: 'fp16' } as GeneratorEntry, 'wasm', true)).toBe('fp32');
  });
  it('session optimisation: basic for the generator in WASM (measured as fast, quicker to create), all otherwise', () => {
    expect(optimizationFor(g, 'wasm')).toBe('basic');
    expect(optimizationFor(c, 'wasm')).toBe('all');
    expect(optimizationFor(g, 'webgpu')).toBe('all');
  });
  it('WebGPU: fp16 only with shader-f16, never int8', () => {
    expect(chooseVariant(g, 'webgpu', true)).toBe('fp16');
    expect(chooseVariant(g, 'webgpu', false)).toBe('fp32');
    expect(chooseVariant(c, 'webgpu', true)).toBe('fp32');
  });
  it('upscaler: the generator\'s rule, and fp16 only while the generator runs fp16', () => {
    const u = m.models.upscaler!;
    expect(chooseUpscalerVariant(u, 'wasm', true, 'fp32')).toBe('fp32');
    expect(chooseUpscalerVariant({ ...u, default_variant: 'fp16' } as UpscalerEntry, 'wasm', true, 'fp16')).toBe('fp32');
    expect(chooseUpscalerVariant(u, 'webgpu', true, 'fp16')).toBe('fp16');
    expect(chooseUpscalerVariant(u, 'webgpu', true, 'fp32')).toBe('fp32');
    expect(chooseUpscalerVariant(u, 'webgpu', true, undefined)).toBe('fp32');
    expect(chooseUpscalerVariant(u, 'webgpu', false, 'fp16')).toBe('fp32');
    expect(optimizationFor(u, 'wasm')).toBe('all');
  });
  it('looks labels up leniently', () => {
    expect(labelByKey(c.labels, 'Maine Coon')?.id).toBe(6);
    expect(labelByKey(c.labels, 'maine_coon')?.id).toBe(6);
    expect(labelByKey(c.labels, 'lion')).toBeUndefined();
  });
});
