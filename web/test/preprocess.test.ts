import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cropPlan, pyRound, resizeBicubicRGB, rgbaToRgb, squareResize, tensorToRgba, toTensor, unblockRGB } from '../src/engine/preprocess';

// produced by web/scripts/make_pil_golden.py (Pillow, and tinycats.data.images.square_resize)
const golden = JSON.parse(readFileSync(new URL('./fixtures/pil-resize.json', import.meta.url), 'utf8')) as {
  resize: { w: number; h: number; nw: number; nh: number; src: string; expected: string }[];
  square: { w: number; h: number; size: number; src: string; expected: string };
  unblock: { name: string; w: number; h: number; src: string; ew: number; eh: number; expected: string }[];
};
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

function maxDiff(a: Uint8Array, b: Uint8Array) {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('Python-compatible rounding and crop', () => {
  it('rounds halves to even like Python', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6, 3].map(pyRound)).toEqual([0, 2, 2, -0, 2, 3, 3]);
  });
  it('plans the same crop as square_resize', () => {
    expect(cropPlan(500, 375, 224)).toEqual({ nw: 299, nh: 224, left: 37, top: 0, size: 224 });
    expect(cropPlan(100, 300, 64)).toEqual({ nw: 64, nh: 192, left: 0, top: 64, size: 64 });
    expect(cropPlan(64, 64, 224)).toEqual({ nw: 224, nh: 224, left: 0, top: 0, size: 224 });
  });
});

describe("bicubic resize matches Pillow's", () => {
  for (const c of golden.resize) {
    it(`${c.w}x${c.h} -> ${c.nw}x${c.nh}`, () => {
      const out = resizeBicubicRGB(bytes(c.src), c.w, c.h, c.nw, c.nh);
      expect(maxDiff(out, bytes(c.expected))).toBeLessThanOrEqual(1);
    });
  }
  it('the whole classifier resize + crop matches tinycats.data.images.square_resize', () => {
    const s = golden.square;
    expect(maxDiff(squareResize(bytes(s.src), s.w, s.h, s.size), bytes(s.expected))).toBeLessThanOrEqual(1);
  });
});

describe('undoing a nearest-neighbour enlargement matches tinycats.data.unblock', () => {
  for (const c of golden.unblock) {
    it(`${c.name}: ${c.w}x${c.h} -> ${c.ew}x${c.eh}`, () => {
      const src = bytes(c.src);
      const r = unblockRGB(src, c.w, c.h);
      expect([r.w, r.h]).toEqual([c.ew, c.eh]);
      expect(Array.from(r.rgb)).toEqual(Array.from(bytes(c.expected)));
      if (c.ew === c.w && c.eh === c.h) expect(r.rgb).toBe(src); // untouched, not copied
    });
  }
  it('the golden set has both kinds: enlargements undone and images kept', () => {
    expect(golden.unblock.some((c) => c.ew < c.w)).toBe(true);
    expect(golden.unblock.some((c) => c.ew === c.w)).toBe(true);
  });
});

describe('tensors', () => {
  it('normalises (p / scale - mean) / std into NCHW', () => {
    const rgb = new Uint8Array([255, 0, 128, 0, 255, 64]); // 2 pixels... as a 1x2 "image"
    const t = toTensor(rgb.subarray(0, 3 * 1), 1, { scale: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(Array.from(t).map((v) => Number(v.toFixed(4)))).toEqual([1, -1, 0.0039]);
  });
  it('writes into a batch at an offset', () => {
    const out = new Float32Array(6);
    toTensor(new Uint8Array([255, 255, 255]), 1, { scale: 255, mean: [0, 0, 0], std: [1, 1, 1] }, out, 3);
    expect(Array.from(out)).toEqual([0, 0, 0, 1, 1, 1]);
  });
  it('maps [-1, 1] to pixels as round(clip((x + 1) * 127.5))', () => {
    // (B=2, 3, 1, 1): image 1 is (-1, 0, 1.5)
    const x = new Float32Array([0, 0, 0, -1, 0, 1.5]);
    expect(Array.from(tensorToRgba(x, 1, 1))).toEqual([0, 128, 255, 255]);
    expect(Array.from(tensorToRgba(new Float32Array([-2, 0.999, 0.5]), 1))).toEqual([0, 255, 191, 255]);
  });
  it('composites transparency on white', () => {
    expect(Array.from(rgbaToRgb(new Uint8Array([0, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 128]), 3, 1))).toEqual([255, 255, 255, 10, 20, 30, 127, 127, 127]);
  });
});
