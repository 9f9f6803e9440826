// Valid JSON of the wrong shape is one ManifestError line, never a TypeError from deep inside.
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest } from '../src/engine/manifest';
import { sampleManifest } from './helpers';

type Gen = Record<string, unknown> & { sampler: Record<string, unknown> };
const withGenerator = (fn: (g: Gen) => void) => {
  const m = sampleManifest() as { models: { generator: Gen } };
  fn(m.models.generator);
  return m;
};

const refuse = (json: unknown, msg: RegExp) => {
  let err: unknown;
  try {
    parseManifest(json);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ManifestError);
  expect((err as Error).message).toMatch(msg);
  expect((err as Error).message).not.toContain('\n');
};

describe('manifest of the wrong shape', () => {
  const shapes: [string, unknown, RegExp][] = [
    ['a list', [], /top level: must be a JSON object/],
    ['null', null, /top level: must be a JSON object/],
    ['a string', 'manifest', /top level/],
    ['models as a list', { format: 'tinycats-manifest', version: 1, models: [] }, /models: must be an object/],
    ['a model as a list', { format: 'tinycats-manifest', version: 1, models: { generator: [] } }, /models.generator: must be an object/],
    ['a version string', { format: 'tinycats-manifest', version: '1', models: {} }, /version: must be a number/],
    ['a model without files', withGenerator((g) => delete g.files), /"files" must list at least one variant/],
    ['files as a list', withGenerator((g) => (g.files = [])), /"files"/],
    ['a null file entry', withGenerator((g) => (g.files = { fp32: null })), /files.fp32: must be an object/],
  ];
  for (const [what, json, msg] of shapes) it(`refuses ${what}`, () => refuse(json, msg));

  const sampler: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    ['a shift of 0', (s) => (s.shift = 0), /shift/],
    ['a negative shift', (s) => (s.shift = -1), /shift/],
    ['zero default steps', (s) => (s.default_steps = 0), /default_steps/],
    ['fractional default steps', (s) => (s.default_steps = 2.5), /default_steps/],
    ['a negative guidance', (s) => (s.default_cfg_scale = -1), /default_cfg_scale/],
    ['t_eps of 1', (s) => (s.t_eps = 1), /t_eps/],
    ['no t_eps', (s) => delete s.t_eps, /t_eps/],
  ];
  for (const [what, fn, msg] of sampler) it(`refuses sampler defaults with ${what}`, () => refuse(withGenerator((g) => fn(g.sampler)), msg));

  // the upscaler's entry (optional): every bad field is one line naming it
  type Up = Record<string, unknown> & { sampler: Record<string, unknown>; inputs: Record<string, unknown> };
  const withUpscaler = (fn: (u: Up) => void) => {
    const m = sampleManifest() as { models: { upscaler: Up } };
    fn(m.models.upscaler);
    return m;
  };
  const upscaler: [string, (u: Up) => void, RegExp][] = [
    ['another task', (u) => (u.task = 'generate'), /models.upscaler: task must be "upscale"/],
    ['no image_size', (u) => delete u.image_size, /models.upscaler: "image_size" must be a number/],
    ['a fractional image_size', (u) => (u.image_size = 127.5), /models.upscaler: image_size must be a positive integer/],
    ['a cond_size that is not the generator\'s image_size', (u) => (u.cond_size = 32), /models.upscaler: cond_size 32 is not the generator's image_size 64/],
    ['a cond_size above the image_size', (u) => (u.cond_size = 256), /models.upscaler: cond_size must be a positive integer below image_size/],
    ['1 channel', (u) => (u.channels = 1), /models.upscaler: only 3-channel/],
    ['v-prediction', (u) => (u.prediction = 'v'), /models.upscaler: prediction must be "x"/],
    ['no sampler', (u) => delete (u as Record<string, unknown>).sampler, /models.upscaler.sampler: must be an object/],
    ['no condition noise level', (u) => delete u.sampler.s, /models.upscaler.sampler: "s" must be a number/],
    ['a condition noise level above 1', (u) => (u.sampler.s = 1.5), /models.upscaler.sampler: "s" .* must be 0..1/],
    ['a negative condition noise level', (u) => (u.sampler.s = -0.1), /models.upscaler.sampler: "s"/],
    ['an unknown solver', (u) => (u.sampler.solver = 'rk4'), /models.upscaler.sampler: solver must be "euler" or "heun"/],
    ['an unknown time convention', (u) => (u.sampler.time = 't1_noise'), /models.upscaler.sampler: unsupported time convention/],
    ['zero default steps', (u) => (u.sampler.default_steps = 0), /models.upscaler.sampler: "default_steps"/],
    ['a shift of 0', (u) => (u.sampler.shift = 0), /models.upscaler.sampler: "shift"/],
    ['no t_eps', (u) => delete u.sampler.t_eps, /models.upscaler.sampler: "t_eps"/],
    ['no cond input', (u) => delete u.inputs.cond, /models.upscaler.inputs: "cond" must be a non-empty string/],
    ['no s input', (u) => delete u.inputs.s, /models.upscaler.inputs: "s" must be a non-empty string/],
    ['no output', (u) => delete u.output, /models.upscaler: "output" must be a non-empty string/],
    ['no files', (u) => delete u.files, /models.upscaler: "files" must list at least one variant/],
    ['a default variant that is not shipped', (u) => (u.default_variant = 'int8'), /models.upscaler: default_variant "int8" is not in files/],
  ];
  for (const [what, fn, msg] of upscaler) it(`refuses an upscaler with ${what}`, () => refuse(withUpscaler(fn), msg));
  it('refuses an upscaler given as a list', () => {
    const m = sampleManifest() as { models: Record<string, unknown> };
    m.models.upscaler = [];
    refuse(m, /models.upscaler: must be an object/);
  });
});
