// Installable and offline: after one visit the app opens, classifies and generates with the network
// off (the server stopped and the browser offline), still cross-origin isolated, with the models
// still checked against their sha256.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { builtManifest, FIXTURES, REPO, WEB } from './util';

const m = builtManifest();
const hasClassifier = !!m?.models.classifier;
const hasGenerator = !!m?.models.generator;
const LOAD = { timeout: 240_000 };
test.describe.configure({ timeout: 600_000 });

async function waitFor(url: string) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

test('the web app manifest makes it installable', async ({ page }) => {
  await page.goto('#/classify');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  const res = await page.request.get(new URL(href!, page.url()).toString());
  expect(res.ok()).toBe(true);
  const wm = (await res.json()) as { name: string; short_name: string; start_url: string; display: string; icons: { src: string; sizes: string; purpose?: string }[] };
  expect(wm.short_name).toBe('tinycats');
  expect(wm.display).toBe('standalone');
  for (const size of ['192x192', '512x512']) expect(wm.icons.some((i) => i.sizes === size && i.src.endsWith('.png'))).toBe(true);
  for (const icon of wm.icons) expect((await page.request.get(new URL(icon.src, res.url()).toString())).ok()).toBe(true);
});

test.describe('offline after one visit', () => {
  // a server of its own, stopped half-way through: served by `tinycats serve` when the Python
  // package is installed, else by `vite preview` (both send COOP/COEP)
  const tinycats = resolve(REPO, '.venv/bin/tinycats');
  const port = 4178;
  const base = `http://127.0.0.1:${port}/`;
  let server: ChildProcess | undefined;
  test.beforeAll(async () => {
    server = existsSync(tinycats)
      ? spawn(tinycats, ['serve', '--dir', resolve(WEB, 'dist'), '--port', String(port), '--quiet'], { stdio: 'ignore' })
      : spawn(process.execPath, [resolve(WEB, 'node_modules/vite/bin/vite.js'), 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: WEB, stdio: 'ignore' });
    await waitFor(base);
  });
  test.afterAll(() => {
    server?.kill();
  });

  test('opens, classifies and generates with the network off, cross-origin isolated', async ({ context, page }) => {
    test.skip(!hasClassifier || !hasGenerator, 'needs both models');
    const size = m!.models.upscaler ? m!.models.upscaler.image_size : m!.models.generator!.image_size;
    const link = `#/generate?breed=bengal&seed=3&steps=3&cfg=3&solver=euler&n=1&size=${size}`;

    // the visit: both pages, both models
    await page.goto(`${base}#/classify`);
    await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'Bombay_2.jpg'));
    await expect(page.getByTestId('top-breed')).not.toBeEmpty(LOAD);
    const online = await page.getByTestId('top-breed').textContent();
    await page.goto(`${base}${link}`);
    await expect(page.getByTestId('gen-ms')).toBeVisible(LOAD);
    // the service worker has stored the app and controls the page
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, LOAD);

    // the network off: the server stopped, the browser offline
    server!.kill();
    server = undefined;
    await context.setOffline(true);
    // offline for real: a file the app never stored cannot be had
    const probe = await page.evaluate(() =>
      fetch(`./never-stored-${Date.now()}.txt`).then(
        (r) => `response ${r.status}`,
        () => 'network error',
      ),
    );
    expect(probe).toBe('network error');

    // a fresh start of the app
    await page.goto('about:blank');
    await page.goto(`${base}#/classify`);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await expect(page.getByTestId('isolation')).toHaveText(/threads/);
    // the model from the app's own cache, checked against the manifest's sha256
    await expect(page.getByTestId('classifier-ready')).toContainText('cached · sha256 ok', LOAD);
    await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'Bombay_2.jpg'));
    await expect(page.getByTestId('top-breed')).toHaveText(online!, LOAD);

    await page.goto(`${base}${link}`);
    await expect(page.getByTestId('generator-ready')).toContainText('cached · sha256 ok', LOAD);
    await expect(page.getByTestId('gen-ms')).toBeVisible(LOAD);
    const px = await page.getByTestId('generated').evaluate((c: HTMLCanvasElement) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data));
    expect(px.some((v, i) => i % 4 !== 3 && v !== 0)).toBe(true);
  });
});
