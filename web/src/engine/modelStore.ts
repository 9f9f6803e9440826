// Model bytes: downloaded once with progress, verified against the manifest (size and sha256,
// Web Crypto), and kept in the browser's Cache API under a key that includes the sha256, so a
// second visit needs no download and a re-exported model is fetched again. A download that does
// not match the manifest is reported and never used or cached.

import type { FileEntry } from './manifest';

export const CACHE_NAME = 'tinycats-models-v1';

export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

export class DownloadError extends Error {
  override name = 'DownloadError';
}

export async function sha256Hex(data: Uint8Array | ArrayBuffer): Promise<string> {
  const view = data instanceof Uint8Array ? data : new Uint8Array(data);
  const digest = await globalThis.crypto.subtle.digest('SHA-256', view as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws IntegrityError unless `bytes` is exactly the manifest's file. */
export async function verify(bytes: Uint8Array, entry: FileEntry, what: string): Promise<void> {
  if (bytes.byteLength !== entry.bytes) {
    throw new IntegrityError(
      `${what}: got ${bytes.byteLength} bytes, the manifest says ${entry.bytes}: the download is damaged or was modified, so it was not used`,
    );
  }
  const sha = await sha256Hex(bytes);
  if (sha !== entry.sha256.toLowerCase()) {
    throw new IntegrityError(
      `${what}: sha256 ${sha.slice(0, 12)}… does not match the manifest (${entry.sha256.slice(0, 12)}…): the file was modified or damaged, so it was not used`,
    );
  }
}

/** The part of the Cache API this module uses (a fake one in tests). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
  keys(): Promise<ReadonlyArray<{ url: string }>>;
}

export interface DownloadProgress {
  phase: 'cache' | 'download' | 'verify';
  loaded: number;
  total: number;
  fromCache: boolean;
}

export interface FetchResult {
  bytes: Uint8Array<ArrayBuffer>;
  fromCache: boolean;
  ms: number;
  /** set when a cached copy was damaged and was replaced by a fresh download */
  note?: string;
}

export interface FetchOptions {
  cache?: CacheLike | null;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  fetchFn?: typeof fetch;
}

export function cacheKey(url: string, entry: FileEntry): string {
  const u = new URL(url);
  u.searchParams.set('sha256', entry.sha256.toLowerCase());
  return u.toString();
}

/** The browser's Cache API, or null where it is unavailable (insecure context, old browser, Node). */
export async function openModelCache(): Promise<CacheLike | null> {
  try {
    if (typeof caches === 'undefined') return null;
    return (await caches.open(CACHE_NAME)) as unknown as CacheLike;
  } catch {
    return null;
  }
}

async function readWithProgress(res: Response, entry: FileEntry, onChunk: (loaded: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  if (!res.body) {
    const buf = new Uint8Array(await res.arrayBuffer());
    onChunk(buf.byteLength);
    return buf;
  }
  const reader = res.body.getReader();
  const out = new Uint8Array(entry.bytes);
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.byteLength > entry.bytes) {
      await reader.cancel();
      throw new IntegrityError(
        `${entry.file}: the server sent more than the ${entry.bytes} bytes the manifest says: the file was modified, so it was not used`,
      );
    }
    out.set(value, loaded);
    loaded += value.byteLength;
    onChunk(loaded);
  }
  return loaded === entry.bytes ? out : out.slice(0, loaded);
}

/** Download (or take from the cache) one model file and verify it against the manifest. */
export async function fetchVerified(url: string, entry: FileEntry, opts: FetchOptions = {}): Promise<FetchResult> {
  const t0 = performance.now();
  const cache = opts.cache ?? null;
  const key = cacheKey(url, entry);
  const progress = opts.onProgress ?? (() => {});
  let note: string | undefined;

  if (cache) {
    const hit = await cache.match(key).catch(() => undefined);
    if (hit) {
      progress({ phase: 'cache', loaded: 0, total: entry.bytes, fromCache: true });
      const bytes = new Uint8Array(await hit.arrayBuffer());
      try {
        await verify(bytes, entry, entry.file);
        progress({ phase: 'cache', loaded: entry.bytes, total: entry.bytes, fromCache: true });
        return { bytes, fromCache: true, ms: performance.now() - t0 };
      } catch {
        await cache.delete(key).catch(() => false);
        note = `the cached copy of ${entry.file} was damaged; it was downloaded again`;
      }
    }
  }

  const fetchFn = opts.fetchFn ?? fetch;
  let res: Response;
  try {
    res = await fetchFn(url, { cache: 'no-cache', signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new DownloadError(`could not download ${entry.file}: ${(e as Error).message || 'network error'}`);
  }
  if (!res.ok) throw new DownloadError(`could not download ${entry.file}: HTTP ${res.status} ${res.statusText}`.trim());
  progress({ phase: 'download', loaded: 0, total: entry.bytes, fromCache: false });
  const bytes = await readWithProgress(res, entry, (loaded) => progress({ phase: 'download', loaded, total: entry.bytes, fromCache: false }));
  progress({ phase: 'verify', loaded: bytes.byteLength, total: entry.bytes, fromCache: false });
  await verify(bytes, entry, entry.file);

  if (cache) {
    try {
      // drop older copies of the same file (other sha256), then keep this one
      const path = new URL(url).pathname;
      for (const req of await cache.keys()) {
        const u = new URL(req.url);
        if (u.pathname === path && req.url !== key) await cache.delete(req.url);
      }
      await cache.put(
        key,
        new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.byteLength) } }),
      );
    } catch {
      // quota exceeded or private mode: the model still works, it is just downloaded next time
    }
  }
  return { bytes, fromCache: false, ms: performance.now() - t0, note };
}
