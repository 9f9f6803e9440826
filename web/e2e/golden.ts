// Reads tests/golden/generator.json and tests/golden/upscaler.json (written by `tinycats export
// golden`) into e2e cases: the settings as a Generate-page query, the noise stream the page is
// given (window.__tinycatsNoise), and the Python runtime's final pixels.

export interface GoldenCase {
  name: string;
  query: string;
  /** the whole stream: the initial noise, then (128 px) eps_c and the upscaler's initial noise */
  noise: number[];
  /** the final image's width and height */
  size: number;
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
      query: new URLSearchParams({ breed, steps: String(c.steps), cfg: String(c.cfg_scale), solver, seed: '7', n: '1', size: String(gen.image_size), variant: g.model.variant }).toString(),
      noise,
      size: gen.image_size,
      expected: pixels(f32(c.final), gen.image_size),
      // the Python and browser runtimes agree to ~1e-5 in value; a pixel can still round the other way
      maxLevels: 1,
    }));
}

interface UpscalerLike {
  image_size: number;
  sampler: { default_steps: number; solver: string; shift: number; s: number };
}

/**
 * The two-stage case: the generator from the golden's base noise, then the upscaler from its eps_c
 * and noise, compared with Python's 128 px final. The page samples with the manifest's settings
 * (the base stage's shift, the upscaler's steps, solver, shift and s), so the case exists only when
 * the golden was made with those; else `skip` says why.
 */
export function upscalerGoldenCase(
  text: string,
  gen: { image_size: number; classes: { key: string }[]; sampler: { shift: number } },
  up: UpscalerLike,
): GoldenCase | { skip: string } {
  const g = JSON.parse(text) as {
    base: { class_id: number; steps: number; cfg_scale: number; solver: string; shift: number; noise: Arr };
    eps_c: Arr;
    noise: Arr;
    sample: { steps: number; solver: string; shift: number; s: number; final: Arr };
  };
  const breed = gen.classes[g.base.class_id]?.key;
  if (!breed) return { skip: `class ${g.base.class_id} is not a generator class` };
  if (g.base.shift !== gen.sampler.shift) return { skip: `made with the generator's shift ${g.base.shift}, the manifest says ${gen.sampler.shift}` };
  const sp = up.sampler;
  const c = g.sample;
  if (c.steps !== sp.default_steps || c.solver !== sp.solver || c.shift !== sp.shift || c.s !== sp.s) {
    return { skip: `made with upscaler settings ${JSON.stringify(c)}, the manifest says ${JSON.stringify(sp)}` };
  }
  const { base } = g;
  return {
    name: `${base.solver} + upscaler`,
    // the Python golden runs the fp32 generator: pin it (the upscaler follows it to fp32)
    query: new URLSearchParams({ breed, steps: String(base.steps), cfg: String(base.cfg_scale), solver: base.solver, seed: '7', n: '1', size: String(up.image_size), variant: 'fp32' }).toString(),
    noise: [...f32(base.noise), ...f32(g.eps_c), ...f32(g.noise)],
    size: up.image_size,
    expected: pixels(f32(c.final), up.image_size),
    // two stages agree to ~1e-5 in value; a pixel can still round the other way
    maxLevels: 1,
  };
}
