// A manifest like the exporters write (docs/manifest.md), for tests.
import { createHash } from 'node:crypto';

export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export function sampleManifest(): Record<string, unknown> {
  const breeds = ['abyssinian', 'bengal', 'birman', 'bombay', 'british_shorthair', 'egyptian_mau', 'maine_coon', 'persian', 'ragdoll', 'russian_blue', 'siamese', 'sphynx'];
  const lab = (keys: string[]) => keys.map((key, id) => ({ id, key, display: key.replace('_', ' ') }));
  const f = (file: string) => ({ file, bytes: 10, sha256: 'a'.repeat(64) });
  return {
    format: 'tinycats-manifest',
    version: 1,
    models: {
      classifier: {
        task: 'classify',
        labels: lab([...breeds, 'other']),
        other_id: 12,
        other_threshold: 0.5,
        temperature: 0.7,
        input: { name: 'image', layout: 'NCHW', size: 224, channels: 'RGB', resize: 'shorter_side_then_center_crop', scale: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
        outputs: { probs: 'probs', cam: 'cam' },
        files: { fp32: f('classifier-fp32.onnx'), int8: f('classifier-int8.onnx') },
        default_variant: 'int8',
        metrics: { top1: 0.8 },
      },
      generator: {
        task: 'generate',
        image_size: 64,
        channels: 3,
        value_range: [-1, 1],
        classes: lab([...breeds, 'any_cat', 'null']),
        null_class: 13,
        inputs: { x: 'x', t: 't', y: 'y' },
        output: 'out',
        prediction: 'x',
        sampler: { time: 't0_noise_t1_data', t_eps: 0.05, default_steps: 20, default_cfg_scale: 3, solver: 'heun', shift: 1 },
        files: { fp32: f('generator-fp32.onnx'), fp16: f('generator-fp16.onnx'), int8: f('generator-int8.onnx') },
        default_variant: 'fp32',
      },
      upscaler: {
        task: 'upscale',
        image_size: 128,
        cond_size: 64,
        channels: 3,
        value_range: [-1, 1],
        inputs: { x: 'x', t: 't', cond: 'cond', s: 's' },
        output: 'out',
        prediction: 'x',
        sampler: { time: 't0_noise_t1_data', t_eps: 0.05, default_steps: 6, solver: 'heun', shift: 1, s: 0.05 },
        files: { fp32: f('upscaler-fp32.onnx'), fp16: f('upscaler-fp16.onnx') },
        default_variant: 'fp32',
        model: { params: 1668660 },
      },
    },
  };
}
