// Class activation map -> a coloured, semi-transparent overlay.

/**
 * The map of class `c` from a (L, h, w) CAM, shifted to start at 0 and scaled to [0, 1]
 * (as `tinycats classify --cam` does; docs/manifest.md).
 */
export function camFor(cam: Float32Array, shape: [number, number], c: number): Float32Array {
  const [h, w] = shape;
  const n = h * w;
  const m = cam.subarray(c * n, (c + 1) * n);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of m) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(n);
  if (hi > lo) for (let i = 0; i < n; i++) out[i] = (m[i]! - lo) / (hi - lo);
  return out;
}

// "inferno"-like ramp: transparent dark purple -> red -> yellow
const STOPS: ReadonlyArray<[number, number, number, number]> = [
  [0, 0, 0, 4],
  [0.25, 87, 16, 110],
  [0.5, 188, 55, 84],
  [0.75, 249, 142, 9],
  [1, 252, 255, 164],
];

export function colormap(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v));
  for (let i = 1; i < STOPS.length; i++) {
    const [p1, r1, g1, b1] = STOPS[i]!;
    if (x <= p1) {
      const [p0, r0, g0, b0] = STOPS[i - 1]!;
      const f = (x - p0) / (p1 - p0);
      return [r0 + f * (r1 - r0), g0 + f * (g1 - g0), b0 + f * (b1 - b0)];
    }
  }
  return [252, 255, 164];
}

/** RGBA pixels (h x w) of a [0, 1] map; weak activations are more transparent. */
export function heatmapRgba(map: Float32Array, h: number, w: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(h * w * 4));
  for (let i = 0; i < h * w; i++) {
    const v = map[i]!;
    const [r, g, b] = colormap(v);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = Math.round(10 + 190 * v * Math.sqrt(v));
  }
  return out;
}
