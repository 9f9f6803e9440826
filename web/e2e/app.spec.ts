import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { builtManifest, canvasPixels, FIXTURES, REPO, shot, WEB } from './util';

const m = builtManifest();
const hasClassifier = !!m?.models.classifier;
const hasGenerator = !!m?.models.generator;
const hasUpscaler = hasGenerator && !!m?.models.upscaler;
const standIn = JSON.stringify(m?.models.classifier?.metrics ?? {}).includes('stand-in');
// engine checks that need some model: the classifier's page when there is one, else the generator's
const any = hasClassifier ? { page: 'classify', model: 'classifier' } : { page: 'generate', model: 'generator' };
const hasAny = hasClassifier || hasGenerator;

test.describe('pages', () => {
  test('every page renders; screenshots', async ({ page }) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    for (const p of ['classify', 'generate', 'benchmark', 'about']) {
      await page.goto(`#/${p}`);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      if (p === 'classify' && hasClassifier) await expect(page.getByTestId('backend')).toBeVisible();
      if (p === 'generate' && hasGenerator) await expect(page.getByTestId('generate')).toBeEnabled();
      await shot(page, p);
    }
    expect(errors).toEqual([]);
  });

  test('cross-origin isolated: WASM runs multi-threaded and says so', async ({ page }) => {
    test.skip(!hasAny, 'no model exported yet');
    await page.goto(`#/${any.page}`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    await expect(page.getByTestId('backend')).toHaveText(`WASM · ${Math.min(4, cores)} thread${Math.min(4, cores) > 1 ? 's' : ''}`);
    await expect(page.getByTestId('isolation')).toHaveText(/threads/);
  });
});

test.describe('classify', () => {
  test.skip(!hasClassifier, 'no classifier exported yet');

  // test-split photos of the committed fixtures (tests/fixtures/oxford-mini)
  // (ones the classifier gets right with confidence > 0.9 in the Python runtime)
  const cases: [string, string][] = [
    ['Egyptian_Mau_2.jpg', 'Egyptian Mau'],
    ['Bombay_2.jpg', 'Bombay'],
    ['Sphynx_3.jpg', 'Sphynx'],
  ];
  for (const [file, breed] of cases) {
    test(`a ${breed} photo`, async ({ page }) => {
      test.skip(standIn, 'stand-in classifier (random weights)');
      await page.goto('#/classify');
      await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, file));
      await expect(page.getByTestId('top-breed')).toHaveText(breed);
      await expect(page.getByTestId('top-prob')).toHaveText(/%$/);
      // a clear photo with the shipped manifest: one confident answer, no "Not sure"
      await expect(page.getByTestId('classify-unsure')).toHaveCount(0);
      await page.getByTestId('cam-toggle').click();
      await expect(page.getByTestId('cam-overlay')).toBeVisible();
      await shot(page, `classify-${breed.toLowerCase().replace(' ', '-')}`);
    });
  }

  test.describe('an unsure answer', () => {
    // the manifest is changed on its way in: no service worker in between
    test.use({ serviceWorkers: 'block' });

    test('under unsure_below: "Not sure" with the three most probable labels', async ({ page }) => {
      test.skip(standIn, 'stand-in classifier (random weights)');
      // The real manifest and the real model; only the classifier's unsure_below is raised, so high
      // that a real photo's answer (Bengal_1 gets about 0.98) falls below it.
      await page.route('**/models/manifest.json', async (route) => {
        const res = await route.fetch();
        const man = (await res.json()) as { models: { classifier: Record<string, unknown> } };
        man.models.classifier.unsure_below = 0.999999;
        await route.fulfill({ response: res, json: man });
      });
      await page.goto('#/classify');
      await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'Bengal_1.jpg'));
      const unsure = page.getByTestId('classify-unsure');
      await expect(unsure).toBeVisible();
      await expect(unsure.getByRole('heading', { name: 'Not sure — it could be one of these' })).toBeVisible();
      // three labels, by their display names, each with its percentage, best first
      const names = new Set(m!.models.classifier!.labels.map((l) => l.display));
      const rows = unsure.getByTestId('unsure-candidate');
      await expect(rows).toHaveCount(3);
      const pcts: number[] = [];
      for (const row of await rows.all()) {
        const [, name, p] = /^(.+?)\s*([\d.]+)%$/.exec((await row.textContent())!.trim())!;
        expect(names.has(name!)).toBe(true);
        pcts.push(Number(p));
      }
      expect(pcts).toEqual([...pcts].sort((a, b) => b - a));
      // no single confident answer next to it
      await expect(page.getByTestId('top-breed')).toHaveCount(0);
      await expect(page.getByTestId('not-a-cat')).toHaveCount(0);
      const axe = await new AxeBuilder({ page }).include('[data-testid="classify-unsure"]').analyze();
      expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
      await shot(page, 'classify-unsure');
    });
  });

  test('a dog is "not a cat"', async ({ page }) => {
    test.skip(standIn, 'stand-in classifier (random weights)');
    await page.goto('#/classify');
    await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'american_bulldog_2.jpg'));
    await expect(page.getByTestId('not-a-cat')).toBeVisible();
  });

  test.describe('a thumbnail enlarged as blocks', () => {
    test.use({ serviceWorkers: 'block' }); // the second page's manifest is changed on its way in

    /** Two PNGs the browser makes from a fixture photo: a 64 px thumbnail, and the same thumbnail
     * enlarged to 450 px with nearest neighbour, as a pixel-art viewer would. */
    async function thumbAndBlocks(page: Page): Promise<[Buffer, Buffer]> {
      const jpeg = readFileSync(resolve(FIXTURES, 'Bengal_1.jpg')).toString('base64');
      const pngs = await page.evaluate(async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const photo = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
        const draw = (src: CanvasImageSource, size: number, smooth: boolean) => {
          const c = new OffscreenCanvas(size, size);
          const ctx = c.getContext('2d')!;
          ctx.imageSmoothingEnabled = smooth;
          ctx.drawImage(src, 0, 0, size, size);
          return c;
        };
        const thumb = draw(photo, 64, true);
        const out: string[] = [];
        for (const c of [thumb, draw(thumb, 450, false)]) {
          const png = new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
          out.push(btoa(Array.from(png, (v) => String.fromCharCode(v)).join('')));
        }
        return out;
      }, jpeg);
      return [Buffer.from(pngs[0]!, 'base64'), Buffer.from(pngs[1]!, 'base64')];
    }

    async function seenAs(page: Page, name: string, png: Buffer): Promise<number[]> {
      await page.getByTestId('file-input').setInputFiles({ name, mimeType: 'image/png', buffer: png });
      await expect(page.getByTestId('classify-ms')).toContainText(name === 'blocks.png' ? '450x450' : '64x64');
      return canvasPixels(page, 'input-preview');
    }

    test('is seen as the thumbnail itself; without "unblock" in the manifest it is not', async ({ page }) => {
      test.skip(!m?.models.classifier?.input.unblock, 'the manifest does not undo enlargements');
      await page.goto('#/classify');
      const [thumb, blocks] = await thumbAndBlocks(page);
      const want = await seenAs(page, 'thumb.png', thumb);
      await expect(page.getByTestId('classify-ms')).not.toContainText('blocks of');
      expect(await seenAs(page, 'blocks.png', blocks)).toEqual(want);
      await expect(page.getByTestId('classify-ms')).toContainText('450x450, blocks of 64x64 → 224px');
      await page.route('**/models/manifest.json', async (route) => {
        const res = await route.fetch();
        const man = (await res.json()) as { models: { classifier: { input: Record<string, unknown> } } };
        man.models.classifier.input.unblock = false;
        await route.fulfill({ response: res, json: man });
      });
      await page.reload();
      expect(await seenAs(page, 'blocks.png', blocks)).not.toEqual(want);
      await expect(page.getByTestId('classify-ms')).not.toContainText('blocks of');
    });
  });

  test('bad files get a friendly message and the page keeps working', async ({ page }) => {
    await page.goto('#/classify');
    await expect(page.getByTestId('backend')).toBeVisible();
    const input = page.getByTestId('file-input');
    const error = page.getByTestId('image-error');

    await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('this is not a cat') });
    await expect(error).toContainText('Not an image');

    await input.setInputFiles({ name: 'empty.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(0) });
    await expect(error).toContainText('Empty file');

    const jpg = readFileSync(resolve(FIXTURES, 'Bengal_1.jpg'));
    const broken = Buffer.concat([jpg.subarray(0, 4), Buffer.alloc(3000, 0x5a)]);
    await input.setInputFiles({ name: 'broken.jpg', mimeType: 'image/jpeg', buffer: broken });
    await expect(error).toContainText('Could not read this image');

    const bomb = Buffer.alloc(64);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]).copy(bomb);
    bomb.writeUInt32BE(30000, 16);
    bomb.writeUInt32BE(30000, 20);
    await input.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: bomb });
    await expect(error).toContainText('Image too large');
    await shot(page, 'classify-bad-file');

    await input.setInputFiles(resolve(FIXTURES, 'Bengal_1.jpg'));
    await expect(error).toBeHidden();
    await expect(page.getByTestId('top-breed')).not.toBeEmpty();
  });

});

test.describe('models', () => {
  test.skip(!hasAny, 'no model exported yet');

  test('models are verified, cached, and a tampered download is refused', async ({ page, context }) => {
    // first visit: downloaded and cached
    let onnx = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('.onnx')) onnx++;
    });
    await page.goto(`#/${any.page}`);
    await expect(page.getByTestId(`${any.model}-ready`)).toContainText('downloaded · sha256 ok');
    expect(onnx).toBeGreaterThan(0);
    // second visit: from the Cache API, no model request
    onnx = 0;
    await page.reload();
    await expect(page.getByTestId(`${any.model}-ready`)).toContainText('cached · sha256 ok');
    expect(onnx).toBe(0);

    // a fresh browser profile whose download is modified on the way
    const fresh = await context.browser()!.newContext();
    const p2 = await fresh.newPage();
    await p2.route('**/*.onnx', async (route) => {
      const res = await route.fetch();
      const body = Buffer.from(await res.body());
      body[Math.floor(body.length / 2)] ^= 0xff;
      await route.fulfill({ response: res, body });
    });
    await p2.goto(new URL(`#/${any.page}`, page.url()).toString());
    await expect(p2.getByTestId(`${any.model}-error`)).toContainText('does not match the manifest');
    await shot(p2, `${any.page}-tampered-model`);
    await fresh.close();
  });
});

test.describe('generate', () => {
  test.skip(!hasGenerator, 'no generator exported yet');

  test('a fixed seed gives the same cat, settings live in the URL', async ({ page }) => {
    await page.goto('#/generate?breed=siamese&seed=7&steps=4&cfg=3&solver=euler&n=1');
    // a link with a seed generates by itself
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    const a = await canvasPixels(page, 'generated');
    expect(a.some((v, i) => i % 4 !== 3 && v !== 0)).toBe(true);
    await page.getByTestId('generate').click();
    await expect(page.getByTestId('generate')).toBeEnabled();
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    expect(await canvasPixels(page, 'generated')).toEqual(a);

    await page.getByTestId('dice').click();
    await expect(page).not.toHaveURL(/seed=7&/);
    await expect(page).toHaveURL(/breed=siamese/);

    // reload with the same link: same pixels
    await page.goto('about:blank');
    await page.goto('#/generate?breed=siamese&seed=7&steps=4&cfg=3&solver=euler&n=1');
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    expect(await canvasPixels(page, 'generated')).toEqual(a);
  });

  test('batch grid, breed mix, classifier badge, live preview, PNG download', async ({ page }) => {
    const base = m!.models.generator!.image_size;
    await page.goto(`#/generate?breed=bengal&mix=persian&a=0.3&steps=6&n=4&size=${base}`);
    await expect(page.getByTestId('mix-slider')).toBeVisible();
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    for (let i = 1; i < 4; i++) await expect(page.getByTestId(`generated-${i}`)).toBeVisible();
    if (hasClassifier) await expect(page.getByTestId('badge-0')).toBeVisible();
    // live preview: the progress shows intermediate steps
    const steps: string[] = [];
    page.on('console', () => {});
    const watcher = page.getByTestId('gen-progress');
    await page.getByTestId('generate').click();
    await expect(watcher).toBeVisible();
    steps.push((await watcher.textContent()) ?? '');
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    expect(steps[0]).toMatch(new RegExp(`^${base} px cat: step \\d+ / 6$`));
    const download = page.waitForEvent('download');
    await page.getByTestId('download-0').click();
    const d = await download;
    expect(d.suggestedFilename()).toMatch(/^tinycats-bengal-persian30-seed\d+-6\w+-cfg[\d.]+-1\.png$/);
    const png = readFileSync((await d.path())!);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    await shot(page, 'generate-grid');
  });

  test('matches the Python runtime on the golden noise', async ({ page }) => {
    const goldenPath = resolve(REPO, 'tests/golden/generator.json');
    test.skip(!existsSync(goldenPath), 'no golden vectors yet (tests/golden/generator.json)');
    const { goldenCases } = await import('./golden');
    const cases = goldenCases(readFileSync(goldenPath, 'utf8'), m!.models.generator!);
    test.skip(cases.length === 0, 'golden vectors have no final image this test can use');
    for (const c of cases) await expectGoldenPixels(page, c);
  });
});

test.describe('generate at 128 px (generator + upscaler)', () => {
  test.skip(!hasUpscaler, 'no upscaler exported yet');

  test('both stages in the live preview, a breed mix, a 128 px download, and back to 64 px', async ({ page }) => {
    const base = m!.models.generator!.image_size;
    const up = m!.models.upscaler!;
    // every step event the generator's worker sends (the page may draw fewer: React can merge
    // updates that arrive close together)
    await page.addInitScript(() => {
      type Step = { stage: string; step: number; total: number; size: number; preview: number };
      const w = window as unknown as { __steps: Step[] };
      w.__steps = [];
      const Base = window.Worker;
      window.Worker = class extends Base {
        override set onmessage(fn: ((e: MessageEvent) => void) | null) {
          super.onmessage = (e: MessageEvent) => {
            const d = e.data as { type?: string; event?: { stage: string; step: number; total: number; size: number; x?: Float32Array } };
            if (d.type === 'step' && d.event) w.__steps.push({ stage: d.event.stage, step: d.event.step, total: d.event.total, size: d.event.size, preview: d.event.x?.length ?? 0 });
            fn?.(e);
          };
        }
      };
    });
    // no size in the link: 128 px is the default when there is an upscaler
    await page.goto('#/generate?breed=bengal&mix=persian&a=0.3&steps=4&solver=euler&n=1');
    await expect(page.getByTestId('size-toggle').locator('input')).toBeChecked();
    await expect(page).toHaveURL(new RegExp(`size=${up.image_size}`));
    await expect(page.getByTestId('generate')).toBeEnabled();
    await expect(page.getByTestId('upscaler-ready')).toContainText('sha256 ok');
    // the progress line and the first canvas, as drawn during one generation
    await page.evaluate(() => {
      const seen: { text: string; width: number }[] = [];
      (window as unknown as { __seen: typeof seen; __steps: unknown[] }).__seen = seen;
      (window as unknown as { __steps: unknown[] }).__steps.length = 0;
      new MutationObserver(() => {
        const text = document.querySelector('[data-testid="gen-progress"]')?.textContent ?? '';
        const width = (document.querySelector('[data-testid="generated"]') as HTMLCanvasElement | null)?.width ?? 0;
        const prev = seen[seen.length - 1];
        if (text && (prev?.text !== text || prev.width !== width)) seen.push({ text, width });
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.getByTestId('generate').click();
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    const { seen, steps } = await page.evaluate(() => {
      const w = window as unknown as { __seen: { text: string; width: number }[]; __steps: { stage: string; step: number; total: number; size: number; preview: number }[] };
      return { seen: w.__seen, steps: w.__steps };
    });
    // the messages: the 4 base steps at 64 px, every one with a preview (its last, the finished
    // 64 px cat, stays up while the upscaler starts), then the upscaler's steps at 128 px with its
    // estimate as a preview, except the last (the result)
    const n = up.sampler.default_steps;
    const px = (size: number) => 3 * size * size;
    expect(steps).toEqual([
      ...[1, 2, 3, 4].map((step) => ({ stage: 'base', step, total: 4, size: base, preview: px(base) })),
      ...Array.from({ length: n }, (_, i) => ({ stage: 'upscale', step: i + 1, total: n, size: up.image_size, preview: i + 1 < n ? px(up.image_size) : 0 })),
    ]);
    // on the page: the 64 px preview with its progress line (it stays up for the upscaler's first
    // step; the upscaler's own lines can be merged away when its steps are quick)
    expect(seen.some((s) => s.text.startsWith(`${base} px cat: step`) && s.width === base)).toBe(true);

    const canvas = page.getByTestId('generated');
    expect(await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([up.image_size, up.image_size]);
    const pixels = await canvasPixels(page, 'generated');
    expect(pixels.some((v, i) => i % 4 !== 3 && v !== 0)).toBe(true);
    await shot(page, 'generate-128');

    const download = page.waitForEvent('download');
    await page.getByTestId('download-0').click();
    const d = await download;
    expect(d.suggestedFilename()).toMatch(new RegExp(`^tinycats-bengal-persian30-seed\\d+-4euler-cfg[\\d.]+-${up.image_size}px\\.png$`));
    const png = readFileSync((await d.path())!);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([up.image_size, up.image_size]);

    // switched off: the link says 64 and the next cat is 64 px
    await page.getByTestId('size-toggle').locator('input').uncheck();
    await expect(page).toHaveURL(new RegExp(`size=${base}`));
    await page.getByTestId('generate').click();
    await expect(page.getByTestId('generate')).toBeEnabled();
    await expect(page.getByTestId('gen-ms')).toBeVisible();
    expect(await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([base, base]);
  });

  test('a link asking for a size the models do not make is told so', async ({ page }) => {
    await page.goto('#/generate?breed=bengal&size=512');
    await expect(page.getByTestId('link-notes')).toContainText(`size=512: must be ${m!.models.generator!.image_size} or ${m!.models.upscaler!.image_size}`);
    await expect(page.getByTestId('size-toggle').locator('input')).toBeChecked();
  });

  test('matches the Python runtime on the golden noise, both stages', async ({ page }) => {
    const goldenPath = resolve(REPO, 'tests/golden/upscaler.json');
    test.skip(!existsSync(goldenPath), 'no golden vectors yet (tests/golden/upscaler.json)');
    const { upscalerGoldenCase } = await import('./golden');
    const c = upscalerGoldenCase(readFileSync(goldenPath, 'utf8'), m!.models.generator!, m!.models.upscaler!);
    test.skip('skip' in c, 'skip' in c ? c.skip : '');
    if (!('skip' in c)) await expectGoldenPixels(page, c);
  });
});

/** Open the case's settings, give the page the case's noise stream, generate, and compare the
 * first canvas with Python's pixels (mean and max difference in pixel levels). */
async function expectGoldenPixels(page: Page, c: import('./golden').GoldenCase) {
  await page.goto(`#/generate?${c.query}`);
  await expect(page.getByTestId('generate')).toBeEnabled();
  await expect(page.getByTestId('gen-ms')).toBeVisible(); // the auto-run with the seeded noise
  await page.evaluate((n) => {
    (window as unknown as { __tinycatsNoise?: Float32Array }).__tinycatsNoise = new Float32Array(n);
  }, c.noise);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('generate')).toBeEnabled();
  await expect(page.getByTestId('gen-ms')).toBeVisible();
  expect(await page.getByTestId('generated').evaluate((el: HTMLCanvasElement) => el.width), c.name).toBe(c.size);
  const px = await canvasPixels(page, 'generated');
  let max = 0;
  let sum = 0;
  for (let i = 0; i < c.expected.length; i++) {
    const d = Math.abs(px[Math.floor(i / 3) * 4 + (i % 3)]! - c.expected[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  console.log(`golden ${c.name}: max |diff| ${max}, mean ${(sum / c.expected.length).toFixed(3)} (pixel levels)`);
  expect(sum / c.expected.length, c.name).toBeLessThan(0.05);
  expect(max, c.name).toBeLessThanOrEqual(c.maxLevels);
}

test.describe('served by `tinycats serve`', () => {
  const tinycats = resolve(REPO, '.venv/bin/tinycats');
  let server: ChildProcess;
  const port = 4176;
  test.skip(!existsSync(tinycats), 'no .venv with tinycats installed');
  test.beforeAll(async () => {
    server = spawn(tinycats, ['serve', '--dir', resolve(WEB, 'dist'), '--port', String(port), '--quiet'], { stdio: 'ignore' });
    await waitFor(`http://127.0.0.1:${port}/`);
  });
  test.afterAll(() => {
    server?.kill();
  });

  test('cross-origin isolated, multi-threaded, models load', async ({ page }) => {
    await page.goto(`http://127.0.0.1:${port}/#/classify`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await expect(page.getByTestId('isolation')).toHaveText(/threads/);
    if (hasClassifier) await expect(page.getByTestId('backend')).toHaveText(/^WASM · \d threads?$/);
  });
});

async function waitFor(url: string) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url} did not come up`);
}

test.describe('without COOP/COEP (a static host that cannot set headers)', () => {
  let server: ChildProcess;
  const port = 4174;
  test.beforeAll(async () => {
    server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', resolve(WEB, 'dist')], { stdio: 'ignore' });
    await waitFor(`http://127.0.0.1:${port}/`);
  });
  test.afterAll(() => {
    server.kill();
  });

  test('still works, single-threaded, and says so', async ({ page }) => {
    test.skip(!hasAny, 'no model exported yet');
    await page.goto(`http://127.0.0.1:${port}/#/${any.page}`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await expect(page.getByTestId('isolation')).toHaveText('single-threaded');
    await expect(page.getByTestId('backend')).toHaveText('WASM · 1 thread');
    if (hasClassifier) {
      await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'Bengal_1.jpg'));
      await expect(page.getByTestId('top-breed')).not.toBeEmpty();
    } else {
      await page.getByTestId('generate').click();
      await expect(page.getByTestId('gen-ms')).toBeVisible();
    }
    await shot(page, `${any.page}-single-threaded`);
  });
});
