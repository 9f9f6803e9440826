// The two stages of a generation (engine/stages.ts) through the worker's glue (engine/runner.ts),
// on fake sessions that record their feeds: above all, the class weights an upscaler that takes
// the breed is fed are the rows the generator's conditional pass got.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../src/engine/manifest';
import { generationNoise } from '../src/engine/rng';
import { makeDenoiser, makeUpscaler, type Ort, type Session } from '../src/engine/runner';
import { classWeights, networkCalls, oneHot, tile } from '../src/engine/sampler';
import { runStages } from '../src/engine/stages';
import { breedUpscalerManifest, sampleManifest } from './helpers';

type Feeds = Record<string, ort.Tensor>;
const ortNode = ort as unknown as Ort;
const UP_INPUTS = ['x', 't', 'cond', 's', 'y'];

/** A session that records its feeds and predicts an all-zero image of x's shape; `yShape` is the
 * declared shape of its y input (a dynamic batch, then K). */
function fakeSession(inputs: string[], calls: Feeds[], yShape: (number | string)[] = ['batch', 14]): Session {
  return {
    inputNames: inputs,
    outputNames: ['out'],
    inputMetadata: inputs.map((name) => ({ name, isTensor: true, type: 'float32', shape: name === 'y' ? yShape : [] })),
    run: async (feeds: Feeds) => {
      calls.push(feeds);
      const x = feeds.x!;
      return { out: new ort.Tensor('float32', new Float32Array(x.size), x.dims) };
    },
  } as unknown as Session;
}

const rows = (t: ort.Tensor | undefined) => Array.from(t!.data as Float32Array);

/** Both stages on fake sessions (2 Euler steps at 64 px, the upscaler's manifest defaults). */
async function generate(m: Manifest, y: Float32Array, batch: number, cfgScale: number, upInputs = UP_INPUTS) {
  const gen = m.models.generator!;
  const up = m.models.upscaler!;
  const genCalls: Feeds[] = [];
  const upCalls: Feeds[] = [];
  const models = {
    gen: { model: makeDenoiser(ortNode, fakeSession(['x', 't', 'y'], genCalls), gen), entry: gen },
    up: { model: makeUpscaler(ortNode, fakeSession(upInputs, upCalls), up), entry: up },
  };
  const noise = generationNoise(7, batch, gen.image_size, up.image_size);
  await runStages(models, noise, { y, batch, steps: 2, cfgScale, solver: 'euler', hooks: () => ({}) });
  return { genCalls, upCalls, k: gen.classes.length, upCallsExpected: networkCalls(up.sampler.default_steps, up.sampler.solver) };
}

describe('an upscaler that takes the breed gets the generator\'s conditional class weights', () => {
  const m = parseManifest(breedUpscalerManifest());
  const k = m.models.generator!.classes.length;
  const nullRow = Array.from(oneHot(k, m.models.generator!.null_class));
  const mix = classWeights(k, [[1, 2], [4, 1]]);
  const cases: [string, Float32Array, number][] = [
    ['one breed, one cat', oneHot(k, 3), 1],
    ['one breed, two cats', tile(oneHot(k, 3), 2), 2],
    ['a breed mix and a breed, two cats', Float32Array.from([...mix, ...oneHot(k, 7)]), 2],
  ];
  for (const [what, y, batch] of cases) {
    for (const cfgScale of [1, 3]) {
      it(`${what}, guidance ${cfgScale}`, async () => {
        const r = await generate(m, y, batch, cfgScale);
        expect(r.upCalls).toHaveLength(r.upCallsExpected);
        const guided = cfgScale !== 1;
        for (const call of r.genCalls) {
          expect(call.y!.dims).toEqual([guided ? 2 * batch : batch, k]);
          // the generator's conditional rows come first; with guidance the null rows follow
          expect(rows(call.y).slice(0, batch * k)).toEqual(Array.from(y));
        }
        const conditional = rows(r.genCalls[0]!.y).slice(0, batch * k);
        for (const call of r.upCalls) {
          expect(call.y!.dims).toEqual([batch, k]);
          expect(rows(call.y)).toEqual(conditional);
          for (let b = 0; b < batch; b++) expect(rows(call.y).slice(b * k, (b + 1) * k)).not.toEqual(nullRow);
        }
      });
    }
  }
});

describe('the upscaler\'s class-weight input', () => {
  it('is not fed to an upscaler without the breed (the manifest\'s "breed": false)', async () => {
    const m = parseManifest(sampleManifest());
    const r = await generate(m, tile(oneHot(14, 3), 2), 2, 3, ['x', 't', 'cond', 's']);
    expect(r.upCalls).toHaveLength(r.upCallsExpected);
    for (const call of r.upCalls) expect(Object.keys(call).sort()).toEqual(['cond', 's', 't', 'x']);
  });

  it('must exist in the graph, as wide as the generator\'s rows', () => {
    const up = parseManifest(breedUpscalerManifest()).models.upscaler!;
    expect(() => makeUpscaler(ortNode, fakeSession(['x', 't', 'cond', 's'], []), up)).toThrow(/has no input "y"/);
    expect(() => makeUpscaler(ortNode, fakeSession(UP_INPUTS, [], ['batch', 12]), up)).toThrow(/12 classes wide, the generator has 14/);
    expect(() => makeUpscaler(ortNode, fakeSession(UP_INPUTS, [], ['batch', 'k']), up)).not.toThrow();
  });

  it('refuses rows of another width at a call', async () => {
    const up = parseManifest(breedUpscalerManifest()).models.upscaler!;
    const model = makeUpscaler(ortNode, fakeSession(UP_INPUTS, []), up);
    const x = new Float32Array(3 * 128 * 128);
    const cond = new Float32Array(3 * 64 * 64);
    const one = new Float32Array([0.5]);
    await expect(model(x, one, cond, one, new Float32Array(13), 1)).rejects.toBeInstanceOf(RangeError);
    await expect(model(x, one, cond, one, oneHot(14, 2), 1)).resolves.toHaveLength(x.length);
  });
});
