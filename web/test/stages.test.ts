// The two stages of a generation (engine/stages.ts) through the worker's glue (engine/runner.ts),
// on fake sessions that record their feeds: the generator gets the class weights (with the null
// rows under guidance), the upscaler only its image, time and condition noise level.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../src/engine/manifest';
import { generationNoise } from '../src/engine/rng';
import { makeDenoiser, makeUpscaler, type Ort, type Session } from '../src/engine/runner';
import { classWeights, networkCalls, oneHot, tile } from '../src/engine/sampler';
import { runStages } from '../src/engine/stages';
import { sampleManifest } from './helpers';

type Feeds = Record<string, ort.Tensor>;
const ortNode = ort as unknown as Ort;
const UP_INPUTS = ['x', 't', 'cond', 's'];

/** A session that records its feeds and predicts an all-zero image of x's shape. */
function fakeSession(inputs: string[], calls: Feeds[]): Session {
  return {
    inputNames: inputs,
    outputNames: ['out'],
    inputMetadata: inputs.map((name) => ({ name, isTensor: true, type: 'float32', shape: [] })),
    run: async (feeds: Feeds) => {
      calls.push(feeds);
      const x = feeds.x!;
      return { out: new ort.Tensor('float32', new Float32Array(x.size), x.dims) };
    },
  } as unknown as Session;
}

const rows = (t: ort.Tensor | undefined) => Array.from(t!.data as Float32Array);

/** Both stages on fake sessions (2 Euler steps at 64 px, the upscaler's manifest defaults). */
async function generate(m: Manifest, y: Float32Array, batch: number, cfgScale: number) {
  const gen = m.models.generator!;
  const up = m.models.upscaler!;
  const genCalls: Feeds[] = [];
  const upCalls: Feeds[] = [];
  const models = {
    gen: { model: makeDenoiser(ortNode, fakeSession(['x', 't', 'y'], genCalls), gen), entry: gen },
    up: { model: makeUpscaler(ortNode, fakeSession(UP_INPUTS, upCalls), up), entry: up },
  };
  const noise = generationNoise(7, batch, gen.image_size, up.image_size);
  await runStages(models, noise, { y, batch, steps: 2, cfgScale, solver: 'euler', hooks: () => ({}) });
  return { genCalls, upCalls, k: gen.classes.length, upCallsExpected: networkCalls(up.sampler.default_steps, up.sampler.solver) };
}

describe('the two stages get their own inputs', () => {
  const m = parseManifest(sampleManifest());
  const k = m.models.generator!.classes.length;
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
        const guided = cfgScale !== 1;
        for (const call of r.genCalls) {
          expect(call.y!.dims).toEqual([guided ? 2 * batch : batch, k]);
          // the generator's conditional rows come first; with guidance the null rows follow
          expect(rows(call.y).slice(0, batch * k)).toEqual(Array.from(y));
        }
        expect(r.upCalls).toHaveLength(r.upCallsExpected);
        for (const call of r.upCalls) {
          expect(Object.keys(call).sort()).toEqual(['cond', 's', 't', 'x']);
          expect(call.x!.dims).toEqual([batch, 3, 128, 128]);
        }
      });
    }
  }
});

describe('the upscaler\'s graph', () => {
  it('is refused when it takes an input the manifest does not name (it would never be fed)', () => {
    const up = parseManifest(sampleManifest()).models.upscaler!;
    expect(() => makeUpscaler(ortNode, fakeSession([...UP_INPUTS, 'y'], []), up)).toThrow(/graph also takes "y"/);
    expect(() => makeUpscaler(ortNode, fakeSession(UP_INPUTS, []), up)).not.toThrow();
  });
});
