// Reads tests/golden/generator.json (written by `tinycats export golden`) into e2e cases:
// the settings as a Generate-page query, the noise, and the Python runtime's final pixels.

export interface GoldenCase {
  name: string;
  query: string;
  noise: number[];
  /** packed RGB pixels, round(clip((x + 1) * 127.5, 0, 255)) */
  expected: number[];
  maxLevels: number;
}

interface Arr {
  shape: number[];
  base64: string;
}

function f32(a: Arr): number[] {
  const b = Buffer.from(a.base64, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
}

function pixels(x: number[], size: number): number[] {
  const plane = size * size;
  const out: number[] = [];
  for (let i = 0; i < plane; i++)
    for (let c = 0; c < 3; c++) {
      const v = Math.min(255, Math.max(0, (x[c * plane + i]! + 1) * 127.5));
      const r = Math.round(v);
      out.push(Math.abs(v % 1) === 0.5 && r % 2 ? r - 1 : r);
    }
  return out;
}

export function goldenCases(text: string, gen: { image_size: number; classes: { key: string }[]; sampler: { shift: number } }): GoldenCase[] {
  const g = JSON.parse(text) as {
    model: { variant: string };
    class_id: number;
    noise: Arr;
    samples: Record<string, { steps: number; cfg_scale: number; shift: number; final: Arr }>;
  };
  const breed = gen.classes[g.class_id]?.key;
  if (!breed) return [];
  const noise = f32(g.noise);
  return Object.entries(g.samples)
    // the page has no shift setting: it samples with the manifest's, so only cases made with that one
    .filter(([, c]) => c.shift === gen.sampler.shift)
    .map(([solver, c]) => ({
      name: solver,
      query: new URLSearchParams({ breed, steps: String(c.steps), cfg: String(c.cfg_scale), solver, seed: '7', n: '1', variant: g.model.variant }).toString(),
      noise,
      expected: pixels(f32(c.final), gen.image_size),
      // the Python and browser runtimes agree to ~1e-5 in value; a pixel can still round the other way
      maxLevels: 1,
    }));
}
