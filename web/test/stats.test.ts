import { describe, expect, it } from 'vitest';
import { decide } from '../src/engine/decide';
import { camFor, colormap } from '../src/engine/heatmap';
import { sniffImageType } from '../src/engine/imageio';
import { quantile, summarize } from '../src/engine/stats';

describe('latency summary', () => {
  it('median and p90 like numpy.percentile', () => {
    const s = summarize([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
    expect(s.median).toBe(5.5);
    expect(s.p90).toBeCloseTo(9.1, 10);
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.mean).toBe(5.5);
    expect(quantile([42], 0.9)).toBe(42);
    expect(Number.isNaN(summarize([]).median)).toBe(true);
  });
});

describe('heatmap', () => {
  it('takes one class map, shifted to start at 0 and scaled to [0, 1]', () => {
    // 2 classes of 1x3 maps
    const cam = new Float32Array([1, 2, 3, -3, 6, 0]);
    expect(Array.from(camFor(cam, [1, 3], 0))).toEqual([0, 0.5, 1]);
    expect(Array.from(camFor(cam, [1, 3], 1))).toEqual([0, 1, 1 / 3].map((v) => Math.fround(v)));
    expect(Array.from(camFor(new Float32Array([-1, -1]), [1, 2], 0))).toEqual([0, 0]);
  });
  it('colour ramp ends', () => {
    expect(colormap(0)).toEqual([0, 0, 4]);
    expect(colormap(1)).toEqual([252, 255, 164]);
  });
});

describe('image sniffing', () => {
  const b = (...xs: number[]) => new Uint8Array([...xs, ...Array(32).fill(0)]);
  it('knows the common formats and rejects text', () => {
    expect(sniffImageType(b(0xff, 0xd8, 0xff, 0xe0))).toBe('jpeg');
    expect(sniffImageType(b(0x89, 0x50, 0x4e, 0x47))).toBe('png');
    expect(sniffImageType(new TextEncoder().encode('GIF89a'))).toBe('gif');
    expect(sniffImageType(new TextEncoder().encode('RIFF1234WEBPVP8 '))).toBe('webp');
    expect(sniffImageType(new TextEncoder().encode('hello, this is text'))).toBeNull();
  });
});

describe('image size from the header (before decoding)', () => {
  it('reads real JPEG and PNG headers', async () => {
    const { readFileSync } = await import('node:fs');
    const { headerSize } = await import('../src/engine/imageio');
    const jpg = new Uint8Array(readFileSync(new URL('../../tests/fixtures/oxford-mini/images/Bengal_1.jpg', import.meta.url)));
    const size = headerSize(jpg);
    expect(size).not.toBeNull();
    expect(Math.max(...size!)).toBe(160);
    const png = new Uint8Array(readFileSync(new URL('../public/favicon.svg', import.meta.url)));
    expect(headerSize(png)).toBeNull();
    // a PNG header that claims 20000 x 9000
    const bomb = new Uint8Array(64);
    bomb.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(bomb.buffer).setUint32(16, 20000);
    new DataView(bomb.buffer).setUint32(20, 9000);
    expect(headerSize(bomb)).toEqual([20000, 9000]);
  });
});

describe('classifier decision (docs/manifest.md)', () => {
  // 3 breeds + other (id 3)
  it('is other when P(other) >= threshold', () => {
    expect(decide([0.1, 0.2, 0.2, 0.5], { other_id: 3, other_threshold: 0.5 })).toEqual({
      top: 3,
      isOther: true,
      ranked: [3, 1, 2, 0],
      unsure: false,
      candidates: [3, 1, 2],
    });
  });
  it('else the most probable breed, even when other is the argmax', () => {
    const d = decide([0.25, 0.2, 0.25, 0.3], { other_id: 3, other_threshold: 0.5 });
    expect(d.top).toBe(0);
    expect(d.isOther).toBe(false);
    expect(d.ranked).toEqual([0, 3, 2, 1]);
  });
  it('is a plain argmax without a threshold', () => {
    expect(decide([0.25, 0.2, 0.25, 0.3], { other_id: 3 }).top).toBe(3);
  });
});

describe('unsure answers (docs/manifest.md, "Classifier decision")', () => {
  // 3 breeds + other (id 3); the decided label here is breed 0
  const rule = (unsure_below?: number) => ({ other_id: 3, other_threshold: 0.5, unsure_below });
  const probs = Float32Array.from([0.6, 0.25, 0.05, 0.1]);
  it('never unsure without unsure_below', () => {
    expect(decide(probs, rule()).unsure).toBe(false);
    expect(decide(Float32Array.from([0.26, 0.25, 0.25, 0.24]), rule()).unsure).toBe(false);
  });
  it('unsure strictly under the threshold, sure at it', () => {
    expect(decide(probs, rule(0.6)).unsure).toBe(false);
    expect(decide(probs, rule(0.61)).unsure).toBe(true);
    expect(decide(probs, rule(0.59)).unsure).toBe(false);
    expect(decide([0.6, 0.4, 0, 0], rule(0.6)).unsure).toBe(false);
  });
  it('compares in float32, like the CLI: 0.7 as the model gives it is not under 0.7', () => {
    // Math.fround(0.7) = 0.699999988..., below the double 0.7
    expect(decide(Float32Array.from([0.7, 0.2, 0.05, 0.05]), rule(0.7)).unsure).toBe(false);
  });
  it('judges the decided label, not the argmax: a breed decided under a larger P(other)', () => {
    const p = Float32Array.from([0.3, 0.2, 0.05, 0.45]);
    const d = decide(p, rule(0.35));
    expect([d.top, d.unsure]).toEqual([0, true]);
    // the three most probable labels, best first, "other" among them
    expect(d.candidates).toEqual([3, 0, 1]);
  });
  it('"other" can be unsure too', () => {
    const d = decide(Float32Array.from([0.2, 0.15, 0.1, 0.55]), rule(0.6));
    expect([d.isOther, d.unsure]).toEqual([true, true]);
  });
  it('a threshold of 0 is never unsure, 1 is unsure below certainty', () => {
    expect(decide(probs, rule(0)).unsure).toBe(false);
    expect(decide(probs, rule(1)).unsure).toBe(true);
    expect(decide([1, 0, 0, 0], rule(1)).unsure).toBe(false);
  });
});
