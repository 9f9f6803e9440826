import { describe, expect, it } from 'vitest';
import { DEFAULT_SEED, generateLink, imageSizes, LIMITS, parseGenerateLink } from '../src/engine/generateLink';
import { parseManifest } from '../src/engine/manifest';
import { MAX_SEED } from '../src/engine/rng';
import { sampleManifest } from './helpers';

const models = parseManifest(sampleManifest()).models;
const entry = models.generator!;
const up = models.upscaler!;
const choices = entry.classes.filter((c) => c.id !== entry.null_class);
const parse = (q: string) => parseGenerateLink(new URLSearchParams(q), entry, choices, up);
const defaults = parse('').settings;

describe('generate link parsing', () => {
  it('reads a valid link exactly, and writes it back the same', () => {
    const { settings, notes } = parse('breed=siamese&mix=persian&a=0.3&steps=6&cfg=3.5&solver=euler&seed=7&n=4&size=64&variant=int8');
    expect(notes).toEqual([]);
    expect(settings).toEqual({ breed: 10, mix: 7, a: 0.3, steps: 6, cfg: 3.5, solver: 'euler', seed: 7, n: 4, size: 64, variant: 'int8' });
    expect(parse(new URLSearchParams(generateLink(settings, entry.classes)).toString())).toEqual({ settings, notes: [] });
  });

  it('uses the defaults for an empty link, without notes', () => {
    expect(parse('')).toEqual({
      settings: { breed: 0, mix: null, a: 0.5, steps: 20, cfg: 3, solver: 'heun', seed: DEFAULT_SEED, n: 1, size: 128, variant: undefined },
      notes: [],
    });
  });

  const bad: [string, keyof typeof defaults][] = [
    ['seed=NaN', 'seed'],
    ['seed=Infinity', 'seed'],
    ['seed=-1', 'seed'],
    ['seed=1.5', 'seed'],
    [`seed=${MAX_SEED + 1}`, 'seed'],
    ['seed=0x10', 'seed'],
    ['seed=', 'seed'],
    ['seed=%207', 'seed'],
    ['cfg=nan', 'cfg'],
    ['cfg=inf', 'cfg'],
    ['cfg=1e309', 'cfg'],
    [`cfg=${LIMITS.cfg.max + 0.5}`, 'cfg'],
    ['cfg=0', 'cfg'],
    ['steps=0', 'steps'],
    ['steps=2.5', 'steps'],
    [`steps=${LIMITS.steps.max + 1}`, 'steps'],
    ['steps=abc', 'steps'],
    ['a=-0.1', 'a'],
    ['a=NaN', 'a'],
    ['n=2', 'n'],
    ['n=4.0e0x', 'n'],
    ['solver=rk4', 'solver'],
    ['size=256', 'size'],
    ['size=32', 'size'],
    ['size=128px', 'size'],
    ['size=0x80', 'size'],
    ['size=', 'size'],
    ['variant=bf16', 'variant'],
    ['breed=tabby', 'breed'],
    ['mix=tabby', 'mix'],
    ['breed=bengal&mix=bengal', 'mix'],
    ['breed=null', 'breed'],
  ];
  for (const [q, key] of bad) {
    it(`ignores ${q}, says so, and keeps the default`, () => {
      const { settings, notes } = parse(q);
      const want = key === 'breed' || key === 'mix' ? parse(q.replace(/(breed|mix)=[^&]*/g, '')).settings[key] : defaults[key];
      expect(settings[key]).toEqual(want);
      expect(notes).toHaveLength(1);
      expect(notes[0]).toContain(`${key}=`);
      for (const v of [settings.seed, settings.cfg, settings.steps, settings.a]) expect(Number.isFinite(v)).toBe(true);
    });
  }

  it('names a shift in the link: the model sets it', () => {
    const { notes } = parse('shift=nan');
    expect(notes).toEqual([expect.stringMatching(/^shift=nan: links cannot set it; using the model's 1$/)]);
  });

  it('accepts the ends of every range', () => {
    const { settings, notes } = parse(`steps=${LIMITS.steps.min}&cfg=${LIMITS.cfg.max}&seed=${MAX_SEED}&a=0&mix=bengal`);
    expect(notes).toEqual([]);
    expect([settings.steps, settings.cfg, settings.seed, settings.a]).toEqual([LIMITS.steps.min, LIMITS.cfg.max, MAX_SEED, 0]);
  });
});

describe('the image size', () => {
  it('is 128 by default when the manifest has an upscaler, and a link can ask for 64 or 128', () => {
    expect(imageSizes(entry, up)).toEqual([64, 128]);
    expect(parse('').settings.size).toBe(128);
    expect(parse('size=64')).toMatchObject({ settings: { size: 64 }, notes: [] });
    expect(parse('size=128')).toMatchObject({ settings: { size: 128 }, notes: [] });
  });

  it('says which sizes there are when a link asks for another', () => {
    expect(parse('size=256').notes).toEqual(['size=256: must be 64 or 128; using 128']);
  });

  it('is 64 without an upscaler; a link asking for 128 is told why not', () => {
    const p = (q: string) => parseGenerateLink(new URLSearchParams(q), entry, choices);
    expect(imageSizes(entry, undefined)).toEqual([64]);
    expect(p('')).toMatchObject({ settings: { size: 64 }, notes: [] });
    expect(p('size=128')).toMatchObject({ settings: { size: 64 }, notes: ['size=128: this model makes 64 px cats only (no upscaler); using 64'] });
  });

  it('lives in the link, with a breed mix at both sizes', () => {
    for (const size of [64, 128]) {
      const { settings } = parse(`breed=bengal&mix=siamese&a=0.25&seed=3&size=${size}`);
      const link = generateLink(settings, entry.classes);
      expect(link).toMatchObject({ breed: 'bengal', mix: 'siamese', a: '0.25', size: String(size) });
      expect(parse(new URLSearchParams(link).toString())).toEqual({ settings, notes: [] });
    }
  });
});

describe('the first impression', () => {
  const withShowcase = (showcase: unknown) => {
    const m = sampleManifest() as { models: { generator: Record<string, unknown> } };
    m.models.generator.showcase = showcase;
    return parseManifest(m).models.generator!;
  };

  it("opens on the manifest's showcase breed and seed; a link still overrides them", () => {
    const e = withShowcase({ class: 'maine_coon', seed: 1 });
    const open = parseGenerateLink(new URLSearchParams(''), e, choices).settings;
    expect(choices[open.breed]!.key).toBe('maine_coon');
    expect(open.seed).toBe(1);
    const linked = parseGenerateLink(new URLSearchParams('breed=siamese&seed=9'), e, choices).settings;
    expect([choices[linked.breed]!.key, linked.seed]).toEqual(['siamese', 9]);
  });

  it('refuses a showcase that names no class of the model or an impossible seed', () => {
    expect(() => withShowcase({ class: 'tabby', seed: 1 })).toThrow(/showcase.*class/);
    expect(() => withShowcase({ class: 'siamese', seed: -1 })).toThrow(/showcase.*seed/);
  });
});
