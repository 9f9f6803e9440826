import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

// Cross-origin isolation: without these two headers SharedArrayBuffer is unavailable and
// ONNX Runtime Web silently runs on one thread. The same headers are set by `tinycats serve`.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Every file under `dir`, as paths relative to it with forward slashes. */
function listFiles(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), root) : [relative(root, join(dir, e.name)).split(sep).join('/')],
  );
}

/**
 * Offline use: writes dist/sw.js (from sw/sw.js) with the list of the build's files, except the
 * models (*.onnx: the app caches them itself, by sha256), and a version made from their contents,
 * so that any change to the build installs a new service worker.
 */
function offlinePlugin(): Plugin {
  let outDir = 'dist';
  let root = '.';
  return {
    name: 'tinycats-offline',
    apply: 'build',
    configResolved(c) {
      root = c.root;
      outDir = resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      const files = listFiles(outDir)
        .filter((f) => f !== 'sw.js' && !f.endsWith('.onnx') && !f.endsWith('.map'))
        .sort();
      const h = createHash('sha256');
      for (const f of files) h.update(f).update('\0').update(readFileSync(join(outDir, f)));
      const src = readFileSync(resolve(root, 'sw/sw.js'), 'utf8')
        .replace('__TINYCATS_VERSION__', h.digest('hex').slice(0, 16))
        .replace('__TINYCATS_FILES__', JSON.stringify(files));
      writeFileSync(join(outDir, 'sw.js'), src);
    },
  };
}

export default defineConfig({
  // relative base: the build works from any sub-path (e.g. a static host's /tinycats/)
  base: './',
  plugins: [react(), offlinePlugin()],
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  // onnxruntime-web finds its .wasm through new URL(..., import.meta.url): keep it unbundled in dev
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 1500, sourcemap: false },
});
