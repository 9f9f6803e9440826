// The page's side of a model worker: promises for requests, callbacks for progress and steps.

import type { Backend, FileEntry, ModelEntry, ModelKey, OptimizationLevel } from './manifest';
import type {
  BenchProgress,
  BenchRequest,
  BenchResult,
  ClassifyResult,
  GenerateRequest,
  GenerateResult,
  LoadResult,
  StepEvent,
  WorkerMessage,
  WorkerRequest,
} from './protocol';
import { CancelledError } from './sampler';

export interface LoadProgressEvent {
  phase: 'cache' | 'download' | 'verify' | 'init';
  loaded: number;
  total: number;
  fromCache: boolean;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: LoadProgressEvent) => void;
  onStep?: (e: StepEvent) => void;
  onBench?: (p: BenchProgress) => void;
}

export interface Job<T> {
  id: number;
  promise: Promise<T>;
  cancel: () => void;
}

type Distribute<T> = T extends { id: number } ? Omit<T, 'id'> : never;
type RequestBody = Distribute<WorkerRequest>;

export class ModelClient {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private dead: Error | null = null;

  /** `name`: the worker's own model; it may load others (the generator's worker: the upscaler) */
  constructor(readonly name: ModelKey) {
    this.worker = new Worker(new URL('./model.worker.ts', import.meta.url), { type: 'module', name: `tinycats-${name}` });
    this.worker.onmessage = (e: MessageEvent<WorkerMessage>) => this.onMessage(e.data);
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.fail(new Error(`the ${name} worker crashed: ${e.message || 'unknown error'}`));
    };
  }

  private fail(err: Error) {
    this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onMessage(msg: WorkerMessage) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    switch (msg.type) {
      case 'progress':
        p.onProgress?.(msg.progress);
        break;
      case 'step':
        p.onStep?.(msg.event);
        break;
      case 'bench-progress':
        p.onBench?.(msg.progress);
        break;
      case 'result':
        this.pending.delete(msg.id);
        p.resolve(msg.result);
        break;
      case 'error': {
        this.pending.delete(msg.id);
        const err = msg.error.name === 'CancelledError' ? new CancelledError() : new Error(msg.error.message);
        if (msg.error.name !== 'CancelledError') err.name = msg.error.name;
        p.reject(err);
        break;
      }
    }
  }

  private send<T>(body: RequestBody, handlers: Omit<Pending, 'resolve' | 'reject'> = {}, transfer: Transferable[] = []): Job<T> {
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      if (this.dead) {
        reject(this.dead);
        return;
      }
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...handlers });
      this.worker.postMessage({ ...body, id } as WorkerRequest, transfer);
    });
    return { id, promise, cancel: () => this.worker.postMessage({ type: 'cancel', id: this.nextId++, target: id } satisfies WorkerRequest) };
  }

  load(
    args: { model: ModelKey; entry: ModelEntry; url: string; file: FileEntry; variant: string; backend: Backend; allowFallback: boolean; threads: number; optimization: OptimizationLevel },
    onProgress?: (p: LoadProgressEvent) => void,
  ): Job<LoadResult> {
    return this.send<LoadResult>({ type: 'load', ...args }, { onProgress });
  }

  /** Start the runtime early (no answer); the thread count is fixed from then on. */
  prewarm(backend: Backend, threads: number) {
    this.worker.postMessage({ type: 'prewarm', id: this.nextId++, backend, threads } satisfies WorkerRequest);
  }

  classify(tensor: Float32Array, batch: number): Promise<ClassifyResult> {
    return this.send<ClassifyResult>({ type: 'classify', tensor, batch }).promise;
  }

  generate(args: Omit<GenerateRequest, 'type' | 'id'>, onStep?: (e: StepEvent) => void): Job<GenerateResult> {
    return this.send<GenerateResult>({ type: 'generate', ...args }, { onStep });
  }

  bench(args: Omit<BenchRequest, 'type' | 'id'>, onBench?: (p: BenchProgress) => void): Job<BenchResult> {
    return this.send<BenchResult>({ type: 'bench', ...args }, { onBench });
  }

  terminate() {
    this.worker.terminate();
    this.fail(new Error('the model was unloaded'));
  }
}
