// App-wide engine state: the manifest, the browser's capabilities, and one ModelClient (worker)
// per model. Pages call `ensure(model)`; React reads the state through useEngine().

import { defaultThreads, detectCaps, type Caps } from './caps';
import { ModelClient, type Job, type LoadProgressEvent } from './client';
import { chooseVariant, optimizationFor, parseManifest, type Backend, type Manifest, type ModelKey, type OptimizationLevel } from './manifest';
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

class Hub {
  private snap: EngineSnapshot = {
    backendPref: readPref(),
    models: { classifier: { status: 'idle' }, generator: { status: 'idle' } },
  };
  private listeners = new Set<() => void>();
  private clients: Partial<
    Record<ModelKey, { client: ModelClient; runtimeKey?: string; prewarmed?: boolean; loadKey?: string; ready?: Promise<ModelClient>; loadJob?: Job<LoadResult> }>
  > = {};
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
    const variant = override.variant && override.variant in entry.files ? override.variant : chooseVariant(entry, rt.backend, rt.caps.shaderF16);
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
    this.clients[model] ??= { client: new ModelClient(model) };
    this.manifest().catch(() => {});
    const rt = await this.runtimeConfig(override);
    const runtimeKey = `${rt.backend}/${rt.threads}`;
    let slot = this.clients[model];
    if (slot && slot.runtimeKey === undefined) slot.runtimeKey = runtimeKey;
    if (!slot || slot.runtimeKey !== runtimeKey) {
      slot?.client.terminate();
      slot = { client: new ModelClient(model), runtimeKey };
      this.clients[model] = slot;
    }
    if (!slot.prewarmed) {
      slot.client.prewarm(rt.backend, rt.threads);
      slot.prewarmed = true;
    }
    const m = await this.manifest();
    if (!m.models[model]) return this.missing(model);
    const cfg = await this.resolveConfig(model, override);
    const key = JSON.stringify(cfg);
    slot = this.clients[model]!;
    if (slot.loadKey === key && slot.ready) return slot.ready;
    const { client } = slot;
    // no await from here on: concurrent callers must see this load and share it
    const entry = this.snap.manifest!.models[model]!;
    const file = entry.files[cfg.variant]!;
    const t0 = performance.now();
    marks.loadSent[model] = t0;
    const current = () => this.clients[model]?.client === client && this.clients[model]?.loadKey === key;
    this.setModel(model, { status: 'loading', config: cfg, progress: { phase: 'download', loaded: 0, total: file.bytes, fromCache: false, file: file.file } });
    slot.loadJob?.cancel(); // a superseded load stops before creating its session
    const job = client.load(
        { entry, url: new URL(file.file, modelsBaseUrl()).toString(), file, variant: cfg.variant, backend: cfg.backend, allowFallback: true, threads: cfg.threads, optimization: cfg.optimization },
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
            delete this.clients[model];
            client.terminate();
          }
          throw e;
        },
      );
    slot.loadKey = key;
    slot.ready = ready;
    slot.loadJob = job;
    return ready;
  }

  private missing(model: ModelKey): never {
    this.clients[model]?.client.terminate();
    delete this.clients[model];
    const msg = `No ${model} has been exported yet: models/manifest.json does not list one.`;
    if (!this.snap.models[model].missing) this.setModel(model, { status: 'error', missing: true, error: msg });
    throw new Error(msg);
  }

  /** Drop the model's worker (e.g. to reload after an error). */
  unload(model: ModelKey) {
    this.clients[model]?.client.terminate();
    delete this.clients[model];
    this.setModel(model, { status: 'idle' });
  }
}

export const hub = new Hub();
