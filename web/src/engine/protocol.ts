// The typed message API between the page and a model worker (one worker per model):
// requests load / classify / generate / bench / cancel; the worker answers each request with
// progress or step events and exactly one result or error. A worker can hold more than one
// session: the generator's worker also loads the upscaler, and a generate request runs both
// stages there.

import type { Backend, FileEntry, ModelEntry, ModelKey, OptimizationLevel } from './manifest';
import type { DownloadProgress } from './modelStore';
import type { Solver } from './sampler';

export interface LoadRequest {
  type: 'load';
  id: number;
  model: ModelKey;
  entry: ModelEntry;
  url: string;
  file: FileEntry;
  variant: string;
  backend: Backend;
  /** fall back to WASM if WebGPU fails (automatic choice), instead of reporting an error */
  allowFallback: boolean;
  threads: number;
  /** onnxruntime's graphOptimizationLevel for this session (engine/manifest.ts: optimizationFor) */
  optimization: OptimizationLevel;
}

export interface ClassifyRequest {
  type: 'classify';
  id: number;
  /** (batch, 3, S, S) normalised input */
  tensor: Float32Array;
  batch: number;
}

export interface GenerateRequest {
  type: 'generate';
  id: number;
  /** (batch, K) class weights */
  y: Float32Array;
  batch: number;
  /** the generation's noise stream (engine/rng.ts, splitStream): the initial noise (batch, 3, S, S),
   * then, when upscaling, eps_c and the upscaler's initial noise; when absent it is drawn from `seed` */
  noise?: Float32Array;
  seed: number;
  steps: number;
  cfgScale: number;
  solver: Solver;
  /** run the upscaler (loaded in the same worker) on the base stage's images, at its manifest defaults */
  upscale: boolean;
  /** send the intermediate images after every step */
  preview: boolean;
}

export interface BenchRequest {
  type: 'bench';
  id: number;
  /** the worker's model to time: the classifier, or the generator (and its upscaler) */
  model: 'classifier' | 'generator';
  /** generator only: every run also upscales its cat, and the base stage is timed on its own */
  upscale: boolean;
  warmup: number;
  runs: number;
  batch: number;
}

/** Start onnxruntime (import + WebAssembly) before the model is known: no answer. */
export interface PrewarmRequest {
  type: 'prewarm';
  id: number;
  backend: Backend;
  threads: number;
}

export interface CancelRequest {
  type: 'cancel';
  id: number;
  target: number;
}

export type WorkerRequest = LoadRequest | ClassifyRequest | GenerateRequest | BenchRequest | CancelRequest | PrewarmRequest;

export interface LoadResult {
  model: ModelKey;
  backend: Backend;
  /** threads ONNX Runtime actually uses (1 when the page is not cross-origin isolated) */
  threads: number;
  isolated: boolean;
  variant: string;
  optimization: OptimizationLevel;
  file: string;
  bytes: number;
  fromCache: boolean;
  downloadMs: number;
  initMs: number;
  /** where the load time went: model bytes (download or cache + sha256), waiting for the runtime
   * (started in parallel with the fetch), creating the session; total since the load request */
  stages: { fetchMs: number; runtimeWaitMs: number; sessionMs: number; totalMs: number; runtimeImportMs: number; runtimeStartMs: number };
  note?: string;
  /** why the requested backend was not used */
  fallbackReason?: string;
  adapter?: string;
}

export interface ClassifyResult {
  probs: Float32Array;
  cam?: Float32Array;
  /** [h, w] of each class map */
  camShape?: [number, number];
  ms: number;
}

export type Stage = 'base' | 'upscale';

export interface StageTiming {
  stage: Stage;
  ms: number;
  calls: number;
}

export interface GenerateResult {
  /** (batch, 3, size, size) in [-1, 1] */
  images: Float32Array;
  size: number;
  ms: number;
  /** network calls of all the stages */
  calls: number;
  stages: StageTiming[];
}

export interface BenchResult {
  warmupMs: number[];
  /** one whole run each (with upscale: both stages) */
  runMs: number[];
  /** with upscale: the base stage of each timed run alone, measured within the same runs */
  baseMs?: number[];
  /** what one run is */
  unit: string;
}

export interface StepEvent {
  stage: Stage;
  /** steps of this stage: done and all */
  step: number;
  total: number;
  /** steps of all the request's stages: done and all */
  done: number;
  of: number;
  /** the preview, (batch, 3, size, size): the base stage's x_t, the upscaler's clean-image estimate */
  x?: Float32Array;
  size: number;
}

export interface BenchProgress {
  done: number;
  total: number;
  warmup: boolean;
}

export type WorkerMessage =
  | { type: 'progress'; id: number; progress: DownloadProgress | { phase: 'init'; loaded: number; total: number; fromCache: boolean } }
  | { type: 'step'; id: number; event: StepEvent }
  | { type: 'bench-progress'; id: number; progress: BenchProgress }
  | { type: 'result'; id: number; result: LoadResult | ClassifyResult | GenerateResult | BenchResult }
  | { type: 'error'; id: number; error: { name: string; message: string } };
