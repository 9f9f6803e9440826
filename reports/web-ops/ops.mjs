// One model's network calls in onnxruntime-web's WASM build under Node, with onnxruntime's
// profiler on; prints the profile (JSON events) on stdout. Run by ops.py beside it.
//   node ops.mjs <model.onnx> <threads> <runs> <optimisation level>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// onnxruntime-web as web/ installs it (the working directory)
const resolved = createRequire(join(process.cwd(), 'package.json')).resolve('onnxruntime-web');
const ort = await import(pathToFileURL(resolved).href);

const [model, threads, runs, level] = process.argv.slice(2);
ort.env.wasm.numThreads = Number(threads);
const net = await ort.InferenceSession.create(readFileSync(model), {
  executionProviders: ['wasm'], graphOptimizationLevel: level, enableProfiling: true,
});
const wave = (n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
// the units of `make web-bench`: one classify call at batch 1, one CFG step at batch 2
const feeds = net.inputNames.includes('image')
  ? { image: new ort.Tensor('float32', wave(3 * 224 * 224), [1, 3, 224, 224]) }
  : {
    x: new ort.Tensor('float32', wave(2 * 3 * 64 * 64), [2, 3, 64, 64]),
    t: new ort.Tensor('float32', Float32Array.from([0.5, 0.5]), [2]),
    y: new ort.Tensor('float32', new Float32Array(2 * 14), [2, 14]),
  };
for (let i = 0; i < Number(runs); i++) await net.run(feeds);
net.endProfiling();
