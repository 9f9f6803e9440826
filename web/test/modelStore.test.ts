import { describe, expect, it } from 'vitest';
import { cacheKey, DownloadError, fetchVerified, IntegrityError, sha256Hex, type CacheLike, type DownloadProgress } from '../src/engine/modelStore';
import { sha } from './helpers';

const URL_ = 'http://127.0.0.1/models/m.onnx';
const bytes = new Uint8Array(50_000).map((_, i) => (i * 7919) % 251);
const entry = { file: 'm.onnx', bytes: bytes.length, sha256: sha(bytes) };

class FakeCache implements CacheLike {
  store = new Map<string, Uint8Array>();
  async match(k: string) {
    const b = this.store.get(k);
    return b ? new Response(b.slice()) : undefined;
  }
  async put(k: string, r: Response) {
    this.store.set(k, new Uint8Array(await r.arrayBuffer()));
  }
  async delete(k: string) {
    return this.store.delete(k);
  }
  async keys() {
    return [...this.store.keys()].map((url) => ({ url }));
  }
}

function server(body: Uint8Array | null, status = 200) {
  let calls = 0;
  const fetchFn = (async () => {
    calls++;
    if (body === null) throw new TypeError('Failed to fetch');
    // stream in chunks, like a real download
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < body.length; i += 8192) c.enqueue(body.slice(i, i + 8192));
        c.close();
      },
    });
    return new Response(status === 200 ? stream : 'nope', { status, statusText: status === 200 ? 'OK' : 'Not Found' });
  }) as unknown as typeof fetch;
  return { fetchFn, calls: () => calls };
}

describe('sha256 (Web Crypto)', () => {
  it('matches the standard test vector', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('model download, verification and cache', () => {
  it('downloads with progress, verifies, caches; the second load comes from the cache', async () => {
    const cache = new FakeCache();
    const s = server(bytes);
    const events: DownloadProgress[] = [];
    const r1 = await fetchVerified(URL_, entry, { cache, fetchFn: s.fetchFn, onProgress: (p) => events.push(p) });
    expect(r1.fromCache).toBe(false);
    expect(r1.bytes).toEqual(bytes);
    const loaded = events.filter((e) => e.phase === 'download').map((e) => e.loaded);
    expect(loaded[loaded.length - 1]).toBe(bytes.length);
    expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
    expect(events.some((e) => e.phase === 'verify')).toBe(true);
    expect(cache.store.has(cacheKey(URL_, entry))).toBe(true);

    const r2 = await fetchVerified(URL_, entry, { cache, fetchFn: s.fetchFn });
    expect(r2.fromCache).toBe(true);
    expect(r2.bytes).toEqual(bytes);
    expect(s.calls()).toBe(1);
  });

  it('reports a tampered download and neither uses nor caches it', async () => {
    const cache = new FakeCache();
    const evil = bytes.slice();
    evil[1234] ^= 0xff;
    await expect(fetchVerified(URL_, entry, { cache, fetchFn: server(evil).fetchFn })).rejects.toThrow(IntegrityError);
    await expect(fetchVerified(URL_, entry, { cache, fetchFn: server(evil).fetchFn })).rejects.toThrow(/sha256 .* does not match the manifest/);
    expect(cache.store.size).toBe(0);
  });

  it('reports a truncated or oversized download', async () => {
    await expect(fetchVerified(URL_, entry, { fetchFn: server(bytes.slice(0, 1000)).fetchFn })).rejects.toThrow(/got 1000 bytes/);
    const big = new Uint8Array(bytes.length + 10);
    await expect(fetchVerified(URL_, entry, { fetchFn: server(big).fetchFn })).rejects.toThrow(/more than/);
  });

  it('replaces a damaged cached copy with a fresh download', async () => {
    const cache = new FakeCache();
    cache.store.set(cacheKey(URL_, entry), new Uint8Array(10));
    const r = await fetchVerified(URL_, entry, { cache, fetchFn: server(bytes).fetchFn });
    expect(r.fromCache).toBe(false);
    expect(r.note).toMatch(/damaged/);
    expect(cache.store.get(cacheKey(URL_, entry))).toEqual(bytes);
  });

  it('drops the cached copy of an older export of the same file', async () => {
    const cache = new FakeCache();
    const old = { ...entry, sha256: 'b'.repeat(64) };
    cache.store.set(cacheKey(URL_, old), new Uint8Array(3));
    await fetchVerified(URL_, entry, { cache, fetchFn: server(bytes).fetchFn });
    expect([...cache.store.keys()]).toEqual([cacheKey(URL_, entry)]);
  });

  it('turns HTTP and network failures into clear errors', async () => {
    await expect(fetchVerified(URL_, entry, { fetchFn: server(bytes, 404).fetchFn })).rejects.toThrow(DownloadError);
    await expect(fetchVerified(URL_, entry, { fetchFn: server(bytes, 404).fetchFn })).rejects.toThrow(/HTTP 404/);
    await expect(fetchVerified(URL_, entry, { fetchFn: server(null).fetchFn })).rejects.toThrow(/could not download m.onnx/);
  });
});
