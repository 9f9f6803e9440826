// Cross-language parity: the TypeScript sampler + onnxruntime-web (Node) against the Python
// runtime's golden vectors (tests/golden/generator.json, written by `tinycats export golden`).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDenoiser } from '../src/engine/runner';
import { classWeights, guidedVelocity, oneHot, sample, timeGrid } from '../src/engine/sampler';
import { tensorToRgba } from '../src/engine/preprocess';
import { f32, maxAbs, maxLevels, type Arr } from './arrays';
import { hasModel, loadManifest, ortNode, REPO, session } from './models';

interface Golden {
  model: { file: string; sha256: string; variant: string };
  class_id: number;
  null_class: number;
  noise: Arr;
  single_call: { t: number; y: number[]; out: Arr };
  guided_velocity: { t: number; cfg_scale: number; v: Arr };
  mix: { weights: Record<string, number>; y: Arr };
  samples: Record<'euler' | 'heun', { steps: number; cfg_scale: number; shift: number; time_grid: number[]; final: Arr }>;
  tolerance: { max_abs: number };
}

const GOLDEN = resolve(REPO, 'tests/golden/generator.json');
const golden: Golden | null = existsSync(GOLDEN) ? JSON.parse(readFileSync(GOLDEN, 'utf8')) : null;
const m = loadManifest();

const ready = !!golden && hasModel(m, 'generator', golden.model.variant);

describe.skipIf(!ready)('generator golden vectors (Python runtime) vs TypeScript + onnxruntime-web', () => {
  const g = golden!;
  const entry = () => m!.models.generator!;
  const tol = () => g.tolerance.max_abs;

  it('were made for the shipped model', () => {
    const f = entry().files[g.model.variant]!;
    expect(f.sha256, `tests/golden/generator.json was made for ${g.model.file} ${g.model.sha256.slice(0, 12)}…, the manifest ships ${f.sha256.slice(0, 12)}…: re-run \`tinycats export golden\``).toBe(g.model.sha256);
    expect(g.null_class).toBe(entry().null_class);
  });

  it('one network call on [noise; noise] with [class; null] rows', async () => {
    const e = entry();
    const s = await session(m!, 'generator', g.model.variant);
    const model = makeDenoiser(ortNode, s, e);
    const noise = f32(g.noise);
    const k = e.classes.length;
    const y = new Float32Array(2 * k);
    y.set(oneHot(k, g.single_call.y[0]!), 0);
    y.set(oneHot(k, g.single_call.y[1]!), k);
    const out = await model(Float32Array.from([...noise, ...noise]), new Float32Array([g.single_call.t, g.single_call.t]), y, 2);
    expect(maxAbs(out, f32(g.single_call.out))).toBeLessThanOrEqual(tol());
  });

  it('guided velocity (x -> v, CFG once)', async () => {
    const e = entry();
    const model = makeDenoiser(ortNode, await session(m!, 'generator', g.model.variant), e);
    const k = e.classes.length;
    const v = await guidedVelocity(model, f32(g.noise), g.guided_velocity.t, oneHot(k, g.class_id), oneHot(k, e.null_class), 1, g.guided_velocity.cfg_scale, e.prediction, e.sampler.t_eps);
    expect(maxAbs(v, f32(g.guided_velocity.v))).toBeLessThanOrEqual(tol() * 10);
  });

  it('breed mix weights', () => {
    const e = entry();
    const parts = Object.entries(g.mix.weights).map(([name, w]) => {
      const c = e.classes.find((c) => c.display === name || c.key === name.toLowerCase());
      expect(c, name).toBeDefined();
      return [c!.id, w] as const;
    });
    expect(Array.from(classWeights(e.classes.length, parts))).toEqual(Array.from(f32(g.mix.y)));
  });

  for (const solver of ['euler', 'heun'] as const) {
    it(`${solver}: time grid and final image`, async () => {
      const e = entry();
      const c = g.samples[solver];
      expect(timeGrid(c.steps, c.shift)).toEqual(c.time_grid);
      const model = makeDenoiser(ortNode, await session(m!, 'generator', g.model.variant), e);
      const k = e.classes.length;
      const x = await sample(model, f32(g.noise), oneHot(k, g.class_id), oneHot(k, e.null_class), 1, {
        steps: c.steps,
        cfgScale: c.cfg_scale,
        solver,
        shift: c.shift,
        prediction: e.prediction,
        tEps: e.sampler.t_eps,
      });
      const expected = f32(c.final);
      const d = maxAbs(x, expected);
      console.log(`golden ${solver}: max |diff| ${d.toExponential(2)} (tolerance ${tol()})`);
      expect(d).toBeLessThanOrEqual(tol());
      // and as pixels: at most one level apart (rounding at .5 boundaries)
      expect(maxLevels(tensorToRgba(x, e.image_size), tensorToRgba(expected, e.image_size))).toBeLessThanOrEqual(1);
    });
  }
});
