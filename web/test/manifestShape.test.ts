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
});
