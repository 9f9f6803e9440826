// The typed message API between the page and a model worker (one worker per model):
// requests load / classify / generate / bench / cancel; the worker answers each request with
// progress or step events and exactly one result or error.

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
  /** initial noise (batch, 3, S, S); when absent it is drawn from `seed` (engine/rng.ts) */
  noise?: Float32Array;
  seed: number;
  steps: number;
  cfgScale: number;
  solver: Solver;
  /** send the intermediate x after every step */
  preview: boolean;
}

export interface BenchRequest {
  type: 'bench';
  id: number;
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

export interface GenerateResult {
  images: Float32Array;
  ms: number;
  calls: number;
}

export interface BenchResult {
  warmupMs: number[];
  runMs: number[];
  /** what one run is */
  unit: string;
}

export interface StepEvent {
  step: number;
  total: number;
  x?: Float32Array;
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
