// Cross-language parity of the 64 -> 128 px stage: the TypeScript sampler + onnxruntime-web (Node)
// against the Python runtime's golden vectors (tests/golden/upscaler.json, written by
// `tinycats export golden`; docs/sampler.md, "The upscaler stage").
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensorToRgba } from '../src/engine/preprocess';
import { makeUpscaler } from '../src/engine/runner';
import { timeGrid, upscale, upscaleCondition } from '../src/engine/sampler';
import { f32, maxAbs, maxLevels, type Arr } from './arrays';
import { hasModel, loadManifest, ortNode, REPO, session } from './models';

interface UpscalerGolden {
  model: { file: string; sha256: string; variant: string };
  base: { class_id: number; final: Arr };
  eps_c: Arr;
  noise: Arr;
  single_call: { t: number; s: number; out: Arr };
  sample: { steps: number; solver: 'euler' | 'heun'; shift: number; s: number; time_grid: number[]; final: Arr };
  tolerance: { max_abs: number };
}

const GOLDEN = resolve(REPO, 'tests/golden/upscaler.json');
const golden: UpscalerGolden | null = existsSync(GOLDEN) ? JSON.parse(readFileSync(GOLDEN, 'utf8')) : null;
const m = loadManifest();
const ready = !!golden && hasModel(m, 'upscaler', golden.model.variant);

describe.skipIf(!ready)('upscaler golden vectors (Python runtime) vs TypeScript + onnxruntime-web', () => {
  const g = golden!;
  const entry = () => m!.models.upscaler!;
  const tol = () => g.tolerance.max_abs;
  const model = async () => makeUpscaler(ortNode, await session(m!, 'upscaler', g.model.variant), entry());

  it('were made for the shipped model', () => {
    const f = entry().files[g.model.variant]!;
    expect(f.sha256, `tests/golden/upscaler.json was made for ${g.model.file} ${g.model.sha256.slice(0, 12)}…, the manifest ships ${f.sha256.slice(0, 12)}…: re-run \`tinycats export golden\``).toBe(g.model.sha256);
    const e = entry();
    expect(g.base.final.shape).toEqual([1, 3, e.cond_size, e.cond_size]);
    expect(g.noise.shape).toEqual([1, 3, e.image_size, e.image_size]);
  });

  it('one network call on (noise, t, base final + s eps_c, s)', async () => {
    const c = g.single_call;
    const cond = upscaleCondition(f32(g.base.final), f32(g.eps_c), c.s);
    const out = await (await model())(f32(g.noise), new Float32Array([c.t]), cond, new Float32Array([c.s]), 1);
    const d = maxAbs(out, f32(c.out));
    console.log(`upscaler golden single call: max |diff| ${d.toExponential(2)} (tolerance ${tol()})`);
    expect(d).toBeLessThanOrEqual(tol());
  });

  it('the whole stage: time grid and final 128 px image from base final + eps_c + noise', async () => {
    const e = entry();
    const c = g.sample;
    expect(timeGrid(c.steps, c.shift)).toEqual(c.time_grid);
    const steps: number[] = [];
    const x = await upscale(await model(), f32(g.base.final), f32(g.eps_c), f32(g.noise), 1, { steps: c.steps, solver: c.solver, shift: c.shift, s: c.s, tEps: e.sampler.t_eps }, {
      onStep: (i, _x, prediction) => {
        expect(prediction?.length).toBe(3 * e.image_size * e.image_size);
        steps.push(i);
      },
    });
    expect(steps).toEqual(Array.from({ length: c.steps }, (_, i) => i));
    const expected = f32(c.final);
    const d = maxAbs(x, expected);
    console.log(`upscaler golden ${c.solver} x ${c.steps}: max |diff| ${d.toExponential(2)} (tolerance ${tol()})`);
    expect(d).toBeLessThanOrEqual(tol());
    expect(x.every((v) => v >= -1 && v <= 1)).toBe(true);
    // and as pixels: at most one level apart (rounding at .5 boundaries)
    expect(maxLevels(tensorToRgba(x, e.image_size), tensorToRgba(expected, e.image_size))).toBeLessThanOrEqual(1);
  });
});
