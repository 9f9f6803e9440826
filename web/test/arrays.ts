// Float32 arrays of the golden vector files (tests/golden/*.json, written by `tinycats export
// golden`: little-endian float32 as base64) and how far two of them are apart.
import { expect } from 'vitest';

export interface Arr {
  shape: number[];
  dtype: 'float32';
  base64: string;
}

export function f32(a: Arr): Float32Array {
  const b = Buffer.from(a.base64, 'base64');
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  expect(out.length).toBe(a.shape.reduce((x, y) => x * y, 1));
  return out;
}

export function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** The largest difference in pixel levels once both are turned into 8-bit pixels. */
export function maxLevels(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  expect(a.length).toBe(b.length);
  let px = 0;
  for (let i = 0; i < a.length; i++) px = Math.max(px, Math.abs(a[i]! - b[i]!));
  return px;
}
