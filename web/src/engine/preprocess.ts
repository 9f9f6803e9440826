// Pixels in and out of the models, following the manifest (docs/manifest.md) and the Python
// code it describes (src/tinycats/data/images.py): RGB, alpha composited on white, shorter side
// resized to `size` with Pillow's bicubic filter, centre crop, then (p / scale - mean) / std,
// NCHW float32. Generated images: pixel = round(clip((x + 1) * 127.5, 0, 255)).
//
// The bicubic resize is a port of Pillow's ImagingResample (separable, a = -0.5, support widened
// by the scale factor when shrinking = antialiased, 8-bit rounding between the two passes,
// Image.reduce() first when shrinking by 3x or more, as `reducing_gap=3.0` does), so that the
// browser feeds the classifier what the Python runtime feeds it.

/** Python's round(): halves go to the even neighbour. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface CropPlan {
  /** size after resizing the shorter side */
  nw: number;
  nh: number;
  /** top-left of the centre crop */
  left: number;
  top: number;
  size: number;
}

export function cropPlan(w: number, h: number, size: number): CropPlan {
  const scale = size / Math.min(w, h);
  const nw = Math.max(size, pyRound(w * scale));
  const nh = Math.max(size, pyRound(h * scale));
  return { nw, nh, left: Math.floor((nw - size) / 2), top: Math.floor((nh - size) / 2), size };
}

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  start: Int32Array;
  count: Int32Array;
  k: Float64Array;
  ksize: number;
}

function coeffs(inSize: number, in0: number, in1: number, outSize: number): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[xx * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[xx * ksize + x]! /= ww;
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, k, ksize };
}

function clip8(v: number): number {
  // Pillow adds half of the fixed-point unit then truncates: round half up
  const r = Math.floor(v + 0.5);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** Box-average downscale by integer factors (Pillow's Image.reduce); partial edge blocks average what exists. */
export function reduceRGB(src: Uint8Array, w: number, h: number, fx: number, fy: number): { data: Uint8Array; w: number; h: number } {
  const ow = Math.ceil(w / fx);
  const oh = Math.ceil(h / fy);
  const out = new Uint8Array(ow * oh * 3);
  for (let oy = 0; oy < oh; oy++) {
    const y0 = oy * fy;
    const y1 = Math.min(y0 + fy, h);
    for (let ox = 0; ox < ow; ox++) {
      const x0 = ox * fx;
      const x1 = Math.min(x0 + fx, w);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = y0; y < y1; y++) {
        let p = (y * w + x0) * 3;
        for (let x = x0; x < x1; x++, p += 3) {
          r += src[p]!;
          g += src[p + 1]!;
          b += src[p + 2]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (oy * ow + ox) * 3;
      out[o] = clip8(r / n);
      out[o + 1] = clip8(g / n);
      out[o + 2] = clip8(b / n);
    }
  }
  return { data: out, w: ow, h: oh };
}

/**
 * Pillow-compatible bicubic resize of packed RGB (w x h) to (nw x nh), with
 * `reducing_gap = 3` as in `Image.resize(..., BICUBIC, reducing_gap=3.0)`.
 */
export function resizeBicubicRGB(src: Uint8Array, w: number, h: number, nw: number, nh: number): Uint8Array {
  let data = src;
  let cw = w;
  let ch = h;
  let box = [0, 0, w, h];
  const fx = Math.max(1, Math.trunc(w / nw / 3));
  const fy = Math.max(1, Math.trunc(h / nh / 3));
  if (fx > 1 || fy > 1) {
    const r = reduceRGB(src, w, h, fx, fy);
    data = r.data;
    cw = r.w;
    ch = r.h;
    box = [0, 0, w / fx, h / fy];
  }
  // horizontal pass (rows), then vertical pass (columns), 8-bit between them
  let tmp = data;
  let tw = cw;
  if (nw !== cw || box[0] !== 0 || box[2] !== cw) {
    const c = coeffs(cw, box[0]!, box[2]!, nw);
    tmp = new Uint8Array(nw * ch * 3);
    for (let y = 0; y < ch; y++) {
      const row = y * cw * 3;
      for (let xx = 0; xx < nw; xx++) {
        const s = c.start[xx]!;
        const n = c.count[xx]!;
        const ko = xx * c.ksize;
        let r = 0;
        let g = 0;
        let b = 0;
        for (let x = 0; x < n; x++) {
          const kv = c.k[ko + x]!;
          const p = row + (s + x) * 3;
          r += data[p]! * kv;
          g += data[p + 1]! * kv;
          b += data[p + 2]! * kv;
        }
        const o = (y * nw + xx) * 3;
        tmp[o] = clip8(r);
        tmp[o + 1] = clip8(g);
        tmp[o + 2] = clip8(b);
      }
    }
    tw = nw;
  }
  if (nh === ch && box[1] === 0 && box[3] === ch) return tmp;
  const c = coeffs(ch, box[1]!, box[3]!, nh);
  const out = new Uint8Array(tw * nh * 3);
  for (let yy = 0; yy < nh; yy++) {
    const s = c.start[yy]!;
    const n = c.count[yy]!;
    const ko = yy * c.ksize;
    for (let x = 0; x < tw; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = 0; y < n; y++) {
        const kv = c.k[ko + y]!;
        const p = ((s + y) * tw + x) * 3;
        r += tmp[p]! * kv;
        g += tmp[p + 1]! * kv;
        b += tmp[p + 2]! * kv;
      }
      const o = (yy * tw + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** RGBA (e.g. canvas ImageData) to packed RGB, transparency composited on white. */
export function rgbaToRgb(rgba: Uint8ClampedArray | Uint8Array, w: number, h: number): Uint8Array {
  const n = w * h;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = rgba[i * 4 + c]!;
      out[i * 3 + c] = a === 255 ? v : clip8((v * a + 255 * (255 - a)) / 255);
    }
  }
  return out;
}

/** Fewer runs than this on a side is a flat image, not an enlarged one (tinycats.data.unblock). */
const UNBLOCK_MIN_RUNS = 8;

/** (first line, length) of each run of identical lines; `same(i)`: line i + 1 equals line i. */
function lineRuns(n: number, same: (i: number) => boolean): { starts: number[]; lengths: number[] } {
  const starts = [0];
  for (let i = 1; i < n; i++) if (!same(i - 1)) starts.push(i);
  return { starts, lengths: starts.map((s, j) => (starts[j + 1] ?? n) - s) };
}

/** How many lines each run stands for, or null unless the runs are an enlargement's. */
function linesKept(lengths: number[]): number[] | null {
  if (lengths.length < UNBLOCK_MIN_RUNS) return null;
  const counts = new Map<number, number>();
  for (const l of lengths) counts.set(l, (counts.get(l) ?? 0) + 1);
  let k = 0;
  let best = 0;
  for (const [l, c] of counts) if (c > best || (c === best && l < k)) [k, best] = [l, c]; // on a tie, the shortest
  if (k < 2) return null;
  let a = 0; // lines in regular runs
  let b = 0; // regular runs: the scale is a / b
  let total = 0;
  for (const l of lengths) {
    total += l;
    if (l === k || l === k + 1 || (l === k - 1 && k > 2)) [a, b] = [a + l, b + 1];
  }
  if (4 * a < 3 * total || a < 2 * b) return null;
  return lengths.map((l) => Math.max(1, Math.floor((2 * l * b + a) / (2 * a)))); // round(l / scale)
}

/**
 * Undo a nearest-neighbour enlargement of packed RGB: an image made of blocks becomes its source
 * pixels again, any other image comes back as it is. The same test and integer arithmetic as
 * tinycats.data.unblock (its docstring says why and how strict); applied when the manifest's
 * classifier input has `"unblock": true`.
 */
export function unblockRGB(rgb: Uint8Array, w: number, h: number): { rgb: Uint8Array; w: number; h: number } {
  const row = w * 3;
  const rowSame = (y: number) => {
    for (let i = 0, p = y * row, q = p + row; i < row; i++) if (rgb[p + i] !== rgb[q + i]) return false;
    return true;
  };
  const colSame = (x: number) => {
    for (let y = 0, p = x * 3; y < h; y++, p += row) {
      if (rgb[p] !== rgb[p + 3] || rgb[p + 1] !== rgb[p + 4] || rgb[p + 2] !== rgb[p + 5]) return false;
    }
    return true;
  };
  const rows = lineRuns(h, rowSame);
  const rowKeep = linesKept(rows.lengths);
  if (!rowKeep) return { rgb, w, h };
  const cols = lineRuns(w, colSame);
  const colKeep = linesKept(cols.lengths);
  if (!colKeep) return { rgb, w, h };
  const ys = rows.starts.flatMap((s, j) => Array<number>(rowKeep[j]!).fill(s));
  const xs = cols.starts.flatMap((s, j) => Array<number>(colKeep[j]!).fill(s));
  const out = new Uint8Array(xs.length * ys.length * 3);
  let o = 0;
  for (const y of ys) {
    for (const x of xs) {
      const p = (y * w + x) * 3;
      out[o++] = rgb[p]!;
      out[o++] = rgb[p + 1]!;
      out[o++] = rgb[p + 2]!;
    }
  }
  return { rgb: out, w: xs.length, h: ys.length };
}

/** Crop a (size x size) window from packed RGB. */
export function cropRGB(src: Uint8Array, w: number, left: number, top: number, cw: number, chh: number): Uint8Array {
  const out = new Uint8Array(cw * chh * 3);
  for (let y = 0; y < chh; y++) out.set(src.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + cw) * 3), y * cw * 3);
  return out;
}

/** Shorter side to `size` (Pillow bicubic), centre crop: packed RGB (size x size). */
export function squareResize(rgb: Uint8Array, w: number, h: number, size: number): Uint8Array {
  const p = cropPlan(w, h, size);
  const resized = resizeBicubicRGB(rgb, w, h, p.nw, p.nh);
  return cropRGB(resized, p.nw, p.left, p.top, size, size);
}

export interface Normalisation {
  scale: number;
  mean: readonly number[];
  std: readonly number[];
}

/** Packed RGB (size x size) to a (1, 3, size, size) float32 tensor: (p / scale - mean) / std. */
export function toTensor(rgb: Uint8Array, size: number, norm: Normalisation, out?: Float32Array, offset = 0): Float32Array {
  const plane = size * size;
  const t = out ?? new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = norm.mean[c]!;
    const s = norm.std[c]!;
    const o = offset + c * plane;
    for (let i = 0; i < plane; i++) t[o + i] = (rgb[i * 3 + c]! / norm.scale - m) / s;
  }
  return t;
}

/** Image b of a (B, 3, S, S) tensor in [-1, 1] to RGBA pixels (opaque). */
export function tensorToRgba(x: Float32Array, size: number, b = 0): Uint8ClampedArray<ArrayBuffer> {
  const plane = size * size;
  const out = new Uint8ClampedArray(new ArrayBuffer(plane * 4));
  const base = b * 3 * plane;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (x[base + c * plane + i]! + 1) * 127.5;
      out[i * 4 + c] = pyRound(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** RGBA to packed RGB without compositing (generated images are opaque). */
export function rgbaToRgbOpaque(rgba: Uint8ClampedArray, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rgba[i * 4]!;
    out[i * 3 + 1] = rgba[i * 4 + 1]!;
    out[i * 3 + 2] = rgba[i * 4 + 2]!;
  }
  return out;
}
