import { describe, expect, it } from 'vitest';
import { DEFAULT_SEED, generateLink, LIMITS, parseGenerateLink } from '../src/engine/generateLink';
import { parseManifest } from '../src/engine/manifest';
import { MAX_SEED } from '../src/engine/rng';
import { sampleManifest } from './helpers';

const entry = parseManifest(sampleManifest()).models.generator!;
const choices = entry.classes.filter((c) => c.id !== entry.null_class);
const parse = (q: string) => parseGenerateLink(new URLSearchParams(q), entry, choices);
const defaults = parse('').settings;

describe('generate link parsing', () => {
  it('reads a valid link exactly, and writes it back the same', () => {
    const { settings, notes } = parse('breed=siamese&mix=persian&a=0.3&steps=6&cfg=3.5&solver=euler&seed=7&n=4&variant=int8');
    expect(notes).toEqual([]);
    expect(settings).toEqual({ breed: 10, mix: 7, a: 0.3, steps: 6, cfg: 3.5, solver: 'euler', seed: 7, n: 4, variant: 'int8' });
    expect(parse(new URLSearchParams(generateLink(settings, entry.classes)).toString())).toEqual({ settings, notes: [] });
  });

  it('uses the defaults for an empty link, without notes', () => {
    expect(parse('')).toEqual({
      settings: { breed: 0, mix: null, a: 0.5, steps: 20, cfg: 3, solver: 'heun', seed: DEFAULT_SEED, n: 1, variant: undefined },
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
