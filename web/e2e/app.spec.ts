import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { builtManifest, canvasPixels, FIXTURES, REPO, shot, WEB } from './util';

const m = builtManifest();
const hasClassifier = !!m?.models.classifier;
const hasGenerator = !!m?.models.generator;
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
      await page.getByTestId('cam-toggle').click();
      await expect(page.getByTestId('cam-overlay')).toBeVisible();
      await shot(page, `classify-${breed.toLowerCase().replace(' ', '-')}`);
    });
  }

  test('a dog is "not a cat"', async ({ page }) => {
    test.skip(standIn, 'stand-in classifier (random weights)');
    await page.goto('#/classify');
    await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'american_bulldog_2.jpg'));
    await expect(page.getByTestId('not-a-cat')).toBeVisible();
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
    await page.goto('#/generate?breed=bengal&mix=persian&a=0.3&steps=6&n=4');
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
    expect(steps[0]).toMatch(/Step \d+ \/ 6/);
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
    for (const c of cases) {
      await page.goto(`#/generate?${c.query}`);
      await expect(page.getByTestId('generate')).toBeEnabled();
      await expect(page.getByTestId('gen-ms')).toBeVisible(); // the auto-run with the seeded noise
      await page.evaluate((n) => {
        (window as unknown as { __tinycatsNoise?: Float32Array }).__tinycatsNoise = new Float32Array(n);
      }, c.noise);
      await page.getByTestId('generate').click();
      await expect(page.getByTestId('generate')).toBeEnabled();
      await expect(page.getByTestId('gen-ms')).toBeVisible();
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
  });
});

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
