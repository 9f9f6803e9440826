// One worker per model. Creates its ONNX Runtime session once (load) and reuses it for every
// classify / generate / bench request. The generator's worker also loads the upscaler: the two
// stages of a 128 px cat run back to back here, on one runtime, without copying images between
// threads. Runs are serialised (a session runs one thing at a time); cancel is handled at once
// and stops a generation before its next network call.

import type { ClassifierEntry, GeneratorEntry, ModelKey, UpscalerEntry } from './manifest';
import { fetchVerified, openModelCache } from './modelStore';
import type {
  BenchRequest,
  BenchResult,
  ClassifyRequest,
  ClassifyResult,
  GenerateRequest,
  GenerateResult,
  LoadRequest,
  LoadResult,
  Stage,
  StageTiming,
  WorkerMessage,
  WorkerRequest,
} from './protocol';
import { generationNoise, randn, splitStream, type GenerationNoise } from './rng';
import { makeDenoiser, makeUpscaler, runClassifier, type Ort, type Session } from './runner';
import { CancelledError, oneHot, tile, type SamplerHooks } from './sampler';
import { runStages, type StageModels, type StageRun } from './stages';

interface GpuAdapterLike {
  features: { has(name: string): boolean };
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}
interface WorkerScope {
  name?: string;
  crossOriginIsolated?: boolean;
  navigator: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } };
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(msg: WorkerMessage, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

interface Loaded {
  ort: Ort;
  session: Session;
  req: LoadRequest;
  info: LoadResult;
}

const loaded: Partial<Record<ModelKey, Loaded>> = {};
let queue: Promise<unknown> = Promise.resolve();
const cancelled = new Set<number>();

function post(msg: WorkerMessage, transfer: Transferable[] = []) {
  scope.postMessage(msg, transfer);
}

async function importOrt(backend: 'wasm' | 'webgpu'): Promise<Ort> {
  // the WASM-only build ships a ~14 MB .wasm; the WebGPU build a larger one: load only what runs
  return backend === 'webgpu' ? ((await import('onnxruntime-web/webgpu')) as unknown as Ort) : ((await import('onnxruntime-web/wasm')) as unknown as Ort);
}

async function webgpuProblem(): Promise<{ problem?: string; adapter?: string }> {
  const gpu = scope.navigator.gpu;
  if (!gpu) return { problem: 'this browser has no WebGPU' };
  try {
    const a = await gpu.requestAdapter();
    if (!a) return { problem: 'no WebGPU adapter (GPU disabled or unsupported)' };
    const name = [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'WebGPU adapter';
    return { adapter: name };
  } catch (e) {
    return { problem: `WebGPU adapter request failed: ${(e as Error).message}` };
  }
}

// A 67-byte ONNX graph (y = Identity(x)). Creating a session for it makes onnxruntime compile and
// start its WebAssembly (and its helper threads) while the real model is still being fetched.
const WARMUP_MODEL = 'CAcSADo3ChAKAXgSAXkiCElkZW50aXR5EgF3Wg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==';

let runtime: { key: string; ort: Promise<Ort>; importMs?: number; startMs?: number } | null = null;

/** Import and start onnxruntime once per worker (its thread count is fixed at start). */
function startRuntime(backend: 'wasm' | 'webgpu', threads: number): Promise<Ort> {
  const key = `${backend}/${threads}`;
  if (runtime?.key === key) return runtime.ort;
  const t0 = performance.now();
  const ort = (async () => {
    const o = await importOrt(backend);
    if (runtime?.key === key) runtime.importMs = performance.now() - t0;
    o.env.wasm.numThreads = threads;
    o.env.wasm.proxy = false;
    const bytes = Uint8Array.from(atob(WARMUP_MODEL), (c) => c.charCodeAt(0));
    const s = await o.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    await s.release();
    if (runtime?.key === key) runtime.startMs = performance.now() - t0;
    return o;
  })();
  runtime = { key, ort };
  return ort;
}

function effectiveThreads(requested: number): number {
  return scope.crossOriginIsolated === true ? Math.max(1, requested) : 1;
}

async function load(req: LoadRequest): Promise<LoadResult> {
  const old = loaded[req.model];
  if (old) {
    delete loaded[req.model];
    await old.session.release().catch(() => {});
  }
  const t0 = performance.now();
  const isolated = scope.crossOriginIsolated === true;
  const threads = effectiveThreads(req.threads);
  let backend = req.backend;
  let fallbackReason: string | undefined;
  let adapter: string | undefined;
  if (backend === 'webgpu') {
    const w = await webgpuProblem();
    adapter = w.adapter;
    if (w.problem) {
      if (!req.allowFallback) throw new Error(`WebGPU is not available: ${w.problem}`);
      backend = 'wasm';
      fallbackReason = w.problem;
    }
  }
  // the runtime starts while the model bytes are fetched and verified
  const ortP = startRuntime(backend, threads);
  ortP.catch(() => {});
  const dl = await fetchVerified(req.url, req.file, {
    cache: await openModelCache(),
    onProgress: (progress) => post({ type: 'progress', id: req.id, progress }),
  });
  if (cancelled.has(req.id)) throw new CancelledError();
  post({ type: 'progress', id: req.id, progress: { phase: 'init', loaded: 0, total: 1, fromCache: dl.fromCache } });
  const tFetched = performance.now();
  let ort = await ortP;
  const tRuntime = performance.now();
  let session: Session;
  try {
    session = await ort.InferenceSession.create(dl.bytes, { executionProviders: [backend], graphOptimizationLevel: req.optimization });
  } catch (e) {
    if (backend !== 'webgpu' || !req.allowFallback) throw e;
    fallbackReason = `WebGPU session failed (${(e as Error).message}); using WASM`;
    backend = 'wasm';
    ort = await ortP; // the WebGPU build also runs the WASM backend
    session = await ort.InferenceSession.create(dl.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: req.optimization });
  }
  const tEnd = performance.now();
  const info: LoadResult = {
    model: req.model,
    backend,
    // what onnxruntime runs with after its start (it drops to 1 thread without SharedArrayBuffer)
    threads: backend === 'wasm' ? Number(ort.env.wasm.numThreads) || threads : threads,
    isolated,
    variant: req.variant,
    optimization: req.optimization,
    file: req.file.file,
    bytes: req.file.bytes,
    fromCache: dl.fromCache,
    downloadMs: dl.ms,
    initMs: tEnd - tFetched,
    stages: {
      fetchMs: dl.ms,
      runtimeWaitMs: tRuntime - tFetched,
      sessionMs: tEnd - tRuntime,
      totalMs: tEnd - t0,
      // the runtime's own start (module import, then WebAssembly + helper threads), timed from
      // when it began (a later load in the same worker repeats the figures of that first start)
      runtimeImportMs: runtime?.importMs ?? 0,
      runtimeStartMs: runtime?.startMs ?? 0,
    },
    note: dl.note,
    fallbackReason,
    adapter: backend === 'webgpu' ? adapter : undefined,
  };
  loaded[req.model] = { ort, session, req, info };
  return info;
}

function need(model: ModelKey): Loaded {
  const l = loaded[model];
  if (!l) throw new Error(`the ${model} is not loaded yet`);
  return l;
}

async function classify(req: ClassifyRequest): Promise<ClassifyResult> {
  const l = need('classifier');
  const t0 = performance.now();
  const out = await runClassifier(l.ort, l.session, l.req.entry as ClassifierEntry, req.tensor, req.batch);
  return { ...out, ms: performance.now() - t0 };
}

/** The two stages of a generation with what they need; `up` only when upscaling. */
interface Pipeline {
  gen: { l: Loaded; entry: GeneratorEntry };
  up: { l: Loaded; entry: UpscalerEntry } | null;
}

function pipeline(upscaled: boolean): Pipeline {
  const g = need('generator');
  const u = upscaled ? need('upscaler') : null;
  return { gen: { l: g, entry: g.req.entry as GeneratorEntry }, up: u && { l: u, entry: u.req.entry as UpscalerEntry } };
}

function stageSteps(p: Pipeline, baseSteps: number): Record<Stage, number> {
  return { base: baseSteps, upscale: p.up ? p.up.entry.sampler.default_steps : 0 };
}

/** The pipeline's sessions as the networks of the two stages. */
function stageModels(p: Pipeline): StageModels {
  return {
    gen: { model: makeDenoiser(p.gen.l.ort, p.gen.l.session, p.gen.entry), entry: p.gen.entry },
    up: p.up && { model: makeUpscaler(p.up.l.ort, p.up.l.session, p.up.entry), entry: p.up.entry },
  };
}

/** Both stages on the given draws (engine/stages.ts). */
function runPipeline(p: Pipeline, noise: GenerationNoise, r: StageRun): Promise<{ images: Float32Array; stages: StageTiming[] }> {
  return runStages(stageModels(p), noise, r);
}

async function generate(req: GenerateRequest): Promise<GenerateResult> {
  const p = pipeline(req.upscale);
  const baseSize = p.gen.entry.image_size;
  const size = p.up ? p.up.entry.image_size : baseSize;
  const upSize = p.up ? size : null;
  const noise = req.noise ? splitStream(req.noise, req.batch, baseSize, upSize) : generationNoise(req.seed, req.batch, baseSize, upSize);
  const steps = stageSteps(p, req.steps);
  const of = steps.base + steps.upscale;
  const hooks = (stage: Stage): SamplerHooks => ({
    shouldStop: () => cancelled.has(req.id),
    onStep: (i, x, prediction) => {
      const total = steps[stage];
      const event = { stage, step: i + 1, total, done: (stage === 'base' ? 0 : steps.base) + i + 1, of, size: stage === 'base' ? baseSize : size };
      // the very last step's image is the result: no preview for it (the base stage's last one,
      // the finished 64 px cat, is shown while the upscaler starts)
      if (req.preview && event.done < of) {
        const copy = Float32Array.from(prediction ?? x);
        post({ type: 'step', id: req.id, event: { ...event, x: copy } }, [copy.buffer]);
      } else post({ type: 'step', id: req.id, event });
    },
  });
  const t0 = performance.now();
  const { images, stages } = await runPipeline(p, noise, { y: req.y, batch: req.batch, steps: req.steps, cfgScale: req.cfgScale, solver: req.solver, hooks });
  return { images, size, ms: performance.now() - t0, calls: stages.reduce((a, st) => a + st.calls, 0), stages };
}

async function bench(req: BenchRequest): Promise<BenchResult> {
  // a run resolves to its base stage's time when it also upscales (both measured in the same run)
  let run: () => Promise<number | undefined>;
  let unit: string;
  if (req.model === 'classifier') {
    const l = need('classifier');
    const entry = l.req.entry as ClassifierEntry;
    const s = entry.input.size;
    const x = randn(1234, req.batch * 3 * s * s);
    run = async () => {
      await runClassifier(l.ort, l.session, entry, x, req.batch);
      return undefined;
    };
    unit = `classify a ${s}x${s} image, batch ${req.batch}`;
  } else {
    const p = pipeline(req.upscale);
    const entry = p.gen.entry;
    const sp = entry.sampler;
    const y = tile(oneHot(entry.classes.length, 0), req.batch);
    const size = entry.image_size;
    const upSize = p.up ? p.up.entry.image_size : null;
    const r = { y, batch: req.batch, steps: sp.default_steps, cfgScale: sp.default_cfg_scale, solver: sp.solver, hooks: () => ({ shouldStop: () => cancelled.has(req.id) }) };
    let seed = 0;
    run = async () => {
      const { stages } = await runPipeline(p, generationNoise(seed++, req.batch, size, upSize), r);
      return p.up ? stages[0]!.ms : undefined;
    };
    unit = `generate ${req.batch} ${size}x${size} image(s): ${sp.default_steps} ${sp.solver} steps, guidance ${sp.default_cfg_scale}`;
    if (p.up) {
      const u = p.up.entry;
      unit += `, then upscale to ${u.image_size}x${u.image_size}: ${u.sampler.default_steps} ${u.sampler.solver} steps`;
    }
  }
  const warmupMs: number[] = [];
  const runMs: number[] = [];
  const baseMs: number[] = [];
  const total = req.warmup + req.runs;
  for (let i = 0; i < total; i++) {
    if (cancelled.has(req.id)) throw new CancelledError();
    const t0 = performance.now();
    const base = await run();
    const ms = performance.now() - t0;
    if (i < req.warmup) warmupMs.push(ms);
    else {
      runMs.push(ms);
      if (base !== undefined) baseMs.push(base);
    }
    post({ type: 'bench-progress', id: req.id, progress: { done: i + 1, total, warmup: i < req.warmup } });
  }
  return { warmupMs, runMs, unit, ...(baseMs.length ? { baseMs } : {}) };
}

async function handle(req: WorkerRequest): Promise<void> {
  if (req.type === 'cancel') {
    cancelled.add(req.target);
    return;
  }
  if (req.type === 'prewarm') {
    startRuntime(req.backend === 'webgpu' && !scope.navigator.gpu ? 'wasm' : req.backend, effectiveThreads(req.threads)).catch(() => {});
    return;
  }
  const job = queue.then(async () => {
    try {
      if (cancelled.has(req.id)) throw new CancelledError();
      let result;
      switch (req.type) {
        case 'load':
          result = await load(req);
          break;
        case 'classify':
          result = await classify(req);
          break;
        case 'generate':
          result = await generate(req);
          break;
        case 'bench':
          result = await bench(req);
          break;
      }
      const transfer: Transferable[] = [];
      if ('images' in result) transfer.push(result.images.buffer);
      post({ type: 'result', id: req.id, result }, transfer);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      post({ type: 'error', id: req.id, error: { name: err.name, message: err.message } });
    } finally {
      cancelled.delete(req.id);
    }
  });
  queue = job;
  await job;
}

// onnxruntime's own helper threads may evaluate this bundle too: leave their handler alone
if (!(scope.name ?? '').startsWith('em-pthread')) {
  scope.onmessage = (e) => {
    void handle(e.data);
  };
}
