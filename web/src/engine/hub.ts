// App-wide engine state: the manifest, the browser's capabilities, and one ModelClient (worker)
// per model, except the upscaler, which loads into the generator's worker. Pages call
// `ensure(model)`; React reads the state through useEngine().

import { defaultThreads, detectCaps, type Caps } from './caps';
import { ModelClient, type Job, type LoadProgressEvent } from './client';
import { chooseUpscalerVariant, chooseVariant, optimizationFor, parseManifest, type Backend, type Manifest, type ModelKey, type OptimizationLevel } from './manifest';
import type { LoadResult } from './protocol';

export type BackendPref = 'auto' | Backend;

export interface LoadConfig {
  backend: Backend;
  variant: string;
  threads: number;
  optimization: OptimizationLevel;
}

export interface ModelState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  progress?: LoadProgressEvent & { file: string };
  info?: LoadResult;
  error?: string;
  /** the manifest has no such model (not exported yet) */
  missing?: boolean;
  config?: LoadConfig;
}

export interface EngineSnapshot {
  manifest?: Manifest;
  manifestError?: string;
  caps?: Caps;
  backendPref: BackendPref;
  models: Record<ModelKey, ModelState>;
}

const PREF_KEY = 'tinycats.backend';

function readPref(): BackendPref {
  try {
    const v = localStorage.getItem(PREF_KEY);
    return v === 'wasm' || v === 'webgpu' ? v : 'auto';
  } catch {
    return 'auto';
  }
}

export function modelsBaseUrl(): string {
  return new URL(`${import.meta.env.BASE_URL}models/`, location.href).toString();
}

declare global {
  interface Window {
    /** timings for the benchmark (ms since navigation start): first asked for, load sent to the worker, ready */
    __tinycats?: {
      requested: Partial<Record<ModelKey, number>>;
      loadSent: Partial<Record<ModelKey, number>>;
      ready: Partial<Record<ModelKey, number>>;
      loads: Partial<Record<ModelKey, LoadResult>>;
    };
  }
}

type WorkerKey = 'classifier' | 'generator';

/** The worker each model runs in: the upscaler shares the generator's, so the two stages of a
 * 128 px cat run back to back on one runtime and the 64 px images never cross threads. */
const WORKER_OF: Record<ModelKey, WorkerKey> = { classifier: 'classifier', generator: 'generator', upscaler: 'generator' };

interface SessionLoad {
  /** the LoadConfig it was asked with, as JSON */
  key: string;
  ready: Promise<ModelClient>;
  job: Job<LoadResult>;
}

interface Slot {
  client: ModelClient;
  runtimeKey?: string;
  prewarmed?: boolean;
  loads: Partial<Record<ModelKey, SessionLoad>>;
}

class Hub {
  private snap: EngineSnapshot = {
    backendPref: readPref(),
    models: { classifier: { status: 'idle' }, generator: { status: 'idle' }, upscaler: { status: 'idle' } },
  };
  private listeners = new Set<() => void>();
  private slots: Partial<Record<WorkerKey, Slot>> = {};
  private manifestP: Promise<Manifest> | null = null;
  private capsP: Promise<Caps> | null = null;

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getSnapshot = () => this.snap;

  private set(patch: Partial<EngineSnapshot>) {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }

  private setModel(model: ModelKey, s: ModelState) {
    this.set({ models: { ...this.snap.models, [model]: s } });
  }

  manifest(): Promise<Manifest> {
    this.manifestP ??= (async () => {
      try {
        const res = await fetch(`${modelsBaseUrl()}manifest.json`, { cache: 'no-cache' });
        if (res.status === 404) throw new Error('the models are not here yet (no models/manifest.json): export them with `tinycats export`');
        if (!res.ok) throw new Error(`could not load models/manifest.json: HTTP ${res.status}`);
        let json: unknown;
        try {
          json = await res.json();
        } catch {
          throw new Error('models/manifest.json is not valid JSON');
        }
        const m = parseManifest(json);
        this.set({ manifest: m });
        return m;
      } catch (e) {
        this.set({ manifestError: (e as Error).message });
        throw e;
      }
    })();
    return this.manifestP;
  }

  caps(): Promise<Caps> {
    this.capsP ??= detectCaps().then((c) => {
      this.set({ caps: c });
      return c;
    });
    return this.capsP;
  }

  setBackendPref(pref: BackendPref) {
    try {
      localStorage.setItem(PREF_KEY, pref);
    } catch {
      /* private mode */
    }
    this.set({ backendPref: pref });
  }

  private async runtimeConfig(override: Partial<LoadConfig> & { pref?: BackendPref }): Promise<{ backend: Backend; threads: number; caps: Caps }> {
    const caps = await this.caps();
    const pref = override.pref ?? this.snap.backendPref;
    const backend: Backend = override.backend ?? (pref === 'auto' ? (caps.webgpu && !caps.fallbackAdapter ? 'webgpu' : 'wasm') : pref);
    return { backend, threads: override.threads ?? defaultThreads(caps), caps };
  }

  async resolveConfig(model: ModelKey, override: Partial<LoadConfig> & { pref?: BackendPref } = {}): Promise<LoadConfig> {
    const [m, rt] = await Promise.all([this.manifest(), this.runtimeConfig(override)]);
    const entry = m.models[model];
    if (!entry) throw new Error(`the manifest has no ${model} yet`);
    const gen = this.snap.models.generator;
    const auto = entry.task === 'upscale' ? chooseUpscalerVariant(entry, rt.backend, rt.caps.shaderF16, gen.info?.variant ?? gen.config?.variant) : chooseVariant(entry, rt.backend, rt.caps.shaderF16);
    const variant = override.variant && override.variant in entry.files ? override.variant : auto;
    return { backend: rt.backend, variant, threads: rt.threads, optimization: override.optimization ?? optimizationFor(entry, rt.backend) };
  }

  /**
   * The model's worker with its session loaded in the given (or preferred) configuration. The
   * worker and its runtime start as soon as the backend is known, in parallel with the manifest
   * and the model bytes; a later call with the same configuration reuses the session.
   */
  async ensure(model: ModelKey, override: Partial<LoadConfig> & { pref?: BackendPref } = {}): Promise<ModelClient> {
    const known = this.snap.manifest;
    if (known && !known.models[model]) return this.missing(model);
    const marks = (window.__tinycats ??= { requested: {}, loadSent: {}, ready: {}, loads: {} });
    marks.requested[model] ??= performance.now();
    // the worker script and the manifest load while the capabilities (a WebGPU adapter request)
    // are checked
    const w = WORKER_OF[model];
    this.slots[w] ??= { client: new ModelClient(w), loads: {} };
    this.manifest().catch(() => {});
    const rt = await this.runtimeConfig(override);
    const runtimeKey = `${rt.backend}/${rt.threads}`;
    let slot = this.slots[w];
    if (slot && slot.runtimeKey === undefined) slot.runtimeKey = runtimeKey;
    if (!slot || slot.runtimeKey !== runtimeKey) {
      this.dropWorker(w);
      slot = { client: new ModelClient(w), runtimeKey, loads: {} };
      this.slots[w] = slot;
    }
    if (!slot.prewarmed) {
      slot.client.prewarm(rt.backend, rt.threads);
      slot.prewarmed = true;
    }
    const m = await this.manifest();
    if (!m.models[model]) return this.missing(model);
    const cfg = await this.resolveConfig(model, override);
    const key = JSON.stringify(cfg);
    slot = this.slots[w]!;
    const prev = slot.loads[model];
    if (prev?.key === key) return prev.ready;
    const { client } = slot;
    // no await from here on: concurrent callers must see this load and share it
    const entry = this.snap.manifest!.models[model]!;
    const file = entry.files[cfg.variant]!;
    const t0 = performance.now();
    marks.loadSent[model] = t0;
    const current = () => this.slots[w]?.client === client && this.slots[w]?.loads[model]?.key === key;
    this.setModel(model, { status: 'loading', config: cfg, progress: { phase: 'download', loaded: 0, total: file.bytes, fromCache: false, file: file.file } });
    prev?.job.cancel(); // a superseded load stops before creating its session
    const job = client.load(
      { model, entry, url: new URL(file.file, modelsBaseUrl()).toString(), file, variant: cfg.variant, backend: cfg.backend, allowFallback: true, threads: cfg.threads, optimization: cfg.optimization },
      (p) => {
        if (current()) this.setModel(model, { status: 'loading', config: cfg, progress: { ...p, file: file.file } });
      },
    );
    const ready = job.promise.then(
      (info) => {
        if (current()) {
          this.setModel(model, { status: 'ready', config: cfg, info });
          marks.ready[model] = performance.now();
          marks.loads[model] = info;
          performance.measure(`tinycats:${model}-load`, { start: t0, end: performance.now() });
        }
        return client;
      },
      (e: Error) => {
        if (current()) {
          this.setModel(model, { status: 'error', config: cfg, error: e.message });
          // a worker whose own model failed starts afresh on retry; a failed upscaler leaves
          // the generator's session where it is
          if (model === w) this.dropWorker(w, model);
          else delete this.slots[w]!.loads[model];
        }
        throw e;
      },
    );
    slot.loads[model] = { key, ready, job };
    return ready;
  }

  /** Ends a worker; the models it ran, except `keep`, go back to idle (their sessions went with it). */
  private dropWorker(w: WorkerKey, keep?: ModelKey) {
    const slot = this.slots[w];
    if (!slot) return;
    delete this.slots[w];
    slot.client.terminate();
    for (const m of Object.keys(slot.loads) as ModelKey[]) if (m !== keep) this.setModel(m, { status: 'idle' });
  }

  private missing(model: ModelKey): never {
    const w = WORKER_OF[model];
    if (w === model) this.dropWorker(w, model);
    else delete this.slots[w]?.loads[model];
    const msg = `No ${model} has been exported yet: models/manifest.json does not list one.`;
    if (!this.snap.models[model].missing) this.setModel(model, { status: 'error', missing: true, error: msg });
    throw new Error(msg);
  }

  /** Drop the model's worker (e.g. to reload after an error), with every model loaded in it. */
  unload(model: ModelKey) {
    this.dropWorker(WORKER_OF[model]);
    this.setModel(model, { status: 'idle' });
  }
}

export const hub = new Hub();
