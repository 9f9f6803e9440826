// The two stages of a generation on given draws (docs/sampler.md): the generator's guided
// sample, then, when the pipeline has one, the upscaler on its clipped images. The networks come
// in as plain functions, so the worker (onnxruntime sessions) and the unit tests (fakes) run the
// same wiring: which draws and which settings each stage gets.

import type { GeneratorEntry, UpscalerEntry } from './manifest';
import type { Stage, StageTiming } from './protocol';
import type { GenerationNoise } from './rng';
import { networkCalls, oneHot, sample, upscale, type Denoiser, type SamplerHooks, type Solver, type UpscaleDenoiser } from './sampler';

/** Each stage's network with its manifest entry; `up` only when upscaling. */
export interface StageModels {
  gen: { model: Denoiser; entry: GeneratorEntry };
  up: { model: UpscaleDenoiser; entry: UpscalerEntry } | null;
}

export interface StageRun {
  /** (batch, K) class weights of the conditional pass: a one-hot breed or a breed mix per cat */
  y: Float32Array;
  batch: number;
  steps: number;
  cfgScale: number;
  solver: Solver;
  /** hooks of each stage (progress, cancel) */
  hooks: (stage: Stage) => SamplerHooks;
}

/** Both stages, timed one by one (for the result and for the benchmark). The upscaler runs at its
 * manifest defaults on the generator's images, without class weights or guidance. */
export async function runStages(m: StageModels, noise: GenerationNoise, r: StageRun): Promise<{ images: Float32Array; stages: StageTiming[] }> {
  const { entry } = m.gen;
  const yNull = oneHot(entry.classes.length, entry.null_class);
  const sp = entry.sampler;
  const t0 = performance.now();
  const opts = { steps: r.steps, cfgScale: r.cfgScale, solver: r.solver, shift: sp.shift, prediction: entry.prediction, tEps: sp.t_eps };
  const base = await sample(m.gen.model, noise.base, r.y, yNull, r.batch, opts, r.hooks('base'));
  const stages: StageTiming[] = [{ stage: 'base', ms: performance.now() - t0, calls: networkCalls(r.steps, r.solver) }];
  if (!m.up) return { images: base, stages };
  const u = m.up.entry.sampler;
  const t1 = performance.now();
  const upOpts = { steps: u.default_steps, solver: u.solver, shift: u.shift, s: u.s, tEps: u.t_eps };
  const images = await upscale(m.up.model, base, noise.epsC, noise.x0, r.batch, upOpts, r.hooks('upscale'));
  stages.push({ stage: 'upscale', ms: performance.now() - t1, calls: networkCalls(u.default_steps, u.solver) });
  return { images, stages };
}
