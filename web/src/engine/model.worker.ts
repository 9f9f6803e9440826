// One worker per model. Creates its ONNX Runtime session once (load) and reuses it for every
// classify / generate / bench request. Runs are serialised (a session runs one thing at a time);
// cancel is handled at once and stops a generation before its next network call.

import type { ClassifierEntry, GeneratorEntry } from './manifest';
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
  WorkerMessage,
  WorkerRequest,
} from './protocol';
import { randn } from './rng';
import { makeDenoiser, runClassifier, type Ort, type Session } from './runner';
import { CancelledError, networkCalls, oneHot, sample, tile } from './sampler';

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

let loaded: Loaded | null = null;
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
  if (loaded) {
    await loaded.session.release().catch(() => {});
    loaded = null;
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
  loaded = { ort, session, req, info };
  return info;
}

function need(): Loaded {
  if (!loaded) throw new Error('the model is not loaded yet');
  return loaded;
}

async function classify(req: ClassifyRequest): Promise<ClassifyResult> {
  const l = need();
  const t0 = performance.now();
  const out = await runClassifier(l.ort, l.session, l.req.entry as ClassifierEntry, req.tensor, req.batch);
  return { ...out, ms: performance.now() - t0 };
}

async function generate(req: GenerateRequest): Promise<GenerateResult> {
  const l = need();
  const entry = l.req.entry as GeneratorEntry;
  const d = 3 * entry.image_size * entry.image_size;
  const noise = req.noise ?? randn(req.seed, req.batch * d);
  const yNull = oneHot(entry.classes.length, entry.null_class);
  const model = makeDenoiser(l.ort, l.session, entry);
  const total = req.steps;
  const t0 = performance.now();
  const images = await sample(
    model,
    noise,
    req.y,
    yNull,
    req.batch,
    { steps: req.steps, cfgScale: req.cfgScale, solver: req.solver, shift: entry.sampler.shift, prediction: entry.prediction, tEps: entry.sampler.t_eps },
    {
      shouldStop: () => cancelled.has(req.id),
      onStep: (i, x) => {
        if (req.preview && i < total - 1) {
          const copy = Float32Array.from(x);
          post({ type: 'step', id: req.id, event: { step: i + 1, total, x: copy } }, [copy.buffer]);
        } else post({ type: 'step', id: req.id, event: { step: i + 1, total } });
      },
    },
  );
  return { images, ms: performance.now() - t0, calls: networkCalls(req.steps, req.solver) };
}

async function bench(req: BenchRequest): Promise<BenchResult> {
  const l = need();
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  let run: () => Promise<unknown>;
  let unit: string;
  if (l.req.entry.task === 'classify') {
    const entry = l.req.entry;
    const s = entry.input.size;
    const x = randn(1234, req.batch * 3 * s * s);
    run = () => runClassifier(l.ort, l.session, entry, x, req.batch);
    unit = `classify a ${s}x${s} image, batch ${req.batch}`;
  } else {
    const entry = l.req.entry;
    const k = entry.classes.length;
    const sp = entry.sampler;
    const y = tile(oneHot(k, 0), req.batch);
    const yNull = oneHot(k, entry.null_class);
    const model = makeDenoiser(l.ort, l.session, entry);
    const d = 3 * entry.image_size * entry.image_size;
    const opts = { steps: sp.default_steps, cfgScale: sp.default_cfg_scale, solver: sp.solver, shift: sp.shift, prediction: entry.prediction, tEps: sp.t_eps };
    let seed = 0;
    run = () => sample(model, randn(seed++, req.batch * d), y, yNull, req.batch, opts, { shouldStop: () => cancelled.has(req.id) });
    unit = `generate ${req.batch} ${entry.image_size}x${entry.image_size} image(s): ${sp.default_steps} ${sp.solver} steps, guidance ${sp.default_cfg_scale}`;
  }
  const warmupMs: number[] = [];
  const runMs: number[] = [];
  const total = req.warmup + req.runs;
  for (let i = 0; i < total; i++) {
    if (cancelled.has(req.id)) throw new CancelledError();
    const ms = await time(run);
    (i < req.warmup ? warmupMs : runMs).push(ms);
    post({ type: 'bench-progress', id: req.id, progress: { done: i + 1, total, warmup: i < req.warmup } });
  }
  return { warmupMs, runMs, unit };
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
