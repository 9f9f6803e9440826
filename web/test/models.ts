// Where the exported models are (web/public/models, or $TINYCATS_MODELS_DIR), for Node tests.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { parseManifest, type Manifest, type ModelKey } from '../src/engine/manifest';
import type { Ort } from '../src/engine/runner';

export const WEB = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const REPO = resolve(WEB, '..');
export const MODELS_DIR = process.env.TINYCATS_MODELS_DIR ?? resolve(WEB, 'public/models');

export function loadManifest(): Manifest | null {
  const p = resolve(MODELS_DIR, 'manifest.json');
  return existsSync(p) ? parseManifest(JSON.parse(readFileSync(p, 'utf8'))) : null;
}

export function hasModel(m: Manifest | null, key: ModelKey, variant?: string): boolean {
  const e = m?.models[key];
  if (!e) return false;
  const f = e.files[variant ?? e.default_variant];
  return !!f && existsSync(resolve(MODELS_DIR, f.file));
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/** One session per model file, shared by the tests of a file (creating one takes seconds). */
export function session(m: Manifest, key: ModelKey, variant?: string): Promise<ort.InferenceSession> {
  const e = m.models[key]!;
  const f = e.files[variant ?? e.default_variant]!;
  let s = sessions.get(f.file);
  if (!s) {
    ort.env.wasm.numThreads = 1;
    s = ort.InferenceSession.create(new Uint8Array(readFileSync(resolve(MODELS_DIR, f.file))), { executionProviders: ['wasm'] });
    sessions.set(f.file, s);
  }
  return s;
}

export const ortNode = ort as unknown as Ort;
