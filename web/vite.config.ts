import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Cross-origin isolation: without these two headers SharedArrayBuffer is unavailable and
// ONNX Runtime Web silently runs on one thread. The same headers are set by `tinycats serve`.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  // relative base: the build works from any sub-path (e.g. a static host's /tinycats/)
  base: './',
  plugins: [react()],
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  // onnxruntime-web finds its .wasm through new URL(..., import.meta.url): keep it unbundled in dev
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 1500, sourcemap: false },
});
