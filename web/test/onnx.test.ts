// The real exported models under onnxruntime-web (Node), through the same glue the worker uses.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex, verify } from '../src/engine/modelStore';
import { runClassifier, makeDenoiser } from '../src/engine/runner';
import { randn } from '../src/engine/rng';
import { oneHot, sample, tile } from '../src/engine/sampler';
import { hasModel, loadManifest, MODELS_DIR, ortNode, session } from './models';

const m = loadManifest();

describe.skipIf(!m)('shipped models match their manifest', () => {
  for (const key of ['classifier', 'generator', 'upscaler'] as const) {
    const e = m?.models[key];
    for (const [variant, f] of Object.entries(e?.files ?? {})) {
      it.skipIf(!hasModel(m, key, variant))(`${key} ${variant}: size and sha256`, async () => {
        const bytes = new Uint8Array(readFileSync(resolve(MODELS_DIR, f.file)));
        await expect(verify(bytes, f, f.file)).resolves.toBeUndefined();
        expect(await sha256Hex(bytes)).toBe(f.sha256);
      });
    }
  }
});

describe.skipIf(!hasModel(m, 'classifier'))('classifier under onnxruntime-web', () => {
  it('gives a probability per label (rows sum to 1) and class maps', async () => {
    const e = m!.models.classifier!;
    const s = await session(m!, 'classifier');
    const n = 3 * e.input.size * e.input.size;
    const x = randn(1, 2 * n).map((v) => v * 0.5);
    const out = await runClassifier(ortNode, s, e, x, 2);
    expect(out.probs.length).toBe(2 * e.labels.length);
    for (let b = 0; b < 2; b++) {
      const row = out.probs.subarray(b * e.labels.length, (b + 1) * e.labels.length);
      expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 4);
    }
    if (e.outputs.cam) {
      expect(out.camShape).toHaveLength(2);
      expect(out.cam!.length).toBe(2 * e.labels.length * out.camShape![0] * out.camShape![1]);
    }
  });
});

describe.skipIf(!hasModel(m, 'generator'))('generator under onnxruntime-web', () => {
  it('samples a batch with guidance into [-1, 1], deterministic per seed', async () => {
    const e = m!.models.generator!;
    const s = await session(m!, 'generator');
    const model = makeDenoiser(ortNode, s, e);
    const d = 3 * e.image_size * e.image_size;
    const k = e.classes.length;
    const opts = { steps: 3, cfgScale: e.sampler.default_cfg_scale, solver: e.sampler.solver, shift: e.sampler.shift, prediction: e.prediction, tEps: e.sampler.t_eps };
    const y = tile(oneHot(k, 0), 2);
    const a = await sample(model, randn(5, 2 * d), y, oneHot(k, e.null_class), 2, opts);
    const b = await sample(model, randn(5, 2 * d), y, oneHot(k, e.null_class), 2, opts);
    expect(a.length).toBe(2 * d);
    expect(a).toEqual(b);
    expect(a.every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});

describe.skipIf(!hasModel(m, 'generator', 'int8'))('int8 generator under onnxruntime-web', () => {
  // the int8 file (smoothed activations, per-channel 7-bit weights: DynamicQuantizeLinear +
  // MatMulInteger) runs in the WebAssembly build and its samples stay close to the fp32 file's
  it('samples close to the fp32 model on the same noise', async () => {
    const e = m!.models.generator!;
    const d = 3 * e.image_size * e.image_size;
    const k = e.classes.length;
    const opts = { steps: 4, cfgScale: e.sampler.default_cfg_scale, solver: e.sampler.solver, shift: e.sampler.shift, prediction: e.prediction, tEps: e.sampler.t_eps };
    const y = tile(oneHot(k, 3), 2);
    const out: Float32Array[] = [];
    for (const variant of ['fp32', 'int8']) {
      const model = makeDenoiser(ortNode, await session(m!, 'generator', variant), e);
      out.push(await sample(model, randn(11, 2 * d), y, oneHot(k, e.null_class), 2, opts));
    }
    let sq = 0;
    for (let i = 0; i < out[0].length; i++) sq += (out[0][i] - out[1][i]) ** 2;
    const rms = Math.sqrt(sq / out[0].length);
    console.log(`int8 vs fp32 (WASM, 4 Heun steps): RMS ${rms.toFixed(4)}`);
    expect(rms).toBeGreaterThan(0);
    expect(rms).toBeLessThan(0.1);
  });
});
