// The app as people use it: accessibility (axe), the keyboard, small screens, dark mode, reduced
// motion, smooth scaling of generated cats, and the About page's figures.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { percent } from '../src/engine/figures';
import { builtManifest, FIXTURES, REPO } from './util';

const m = builtManifest();
const hasClassifier = !!m?.models.classifier;
const hasGenerator = !!m?.models.generator;
const PAGES = ['classify', 'generate', 'benchmark', 'about'] as const;
type AppPage = (typeof PAGES)[number];

// a busy machine can take long to download and start a model the first time
const LOAD = { timeout: 400_000 };
test.describe.configure({ timeout: 900_000 });

/** The page has drawn what the manifest tells it (and, with `models`, its model is ready). */
async function ready(page: Page, p: AppPage, models = false) {
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  if (p === 'classify' && hasClassifier && models) await expect(page.getByTestId('backend')).toBeVisible(LOAD);
  if (p === 'generate' && hasGenerator) await expect(page.getByTestId(/^breed-/).first()).toBeVisible();
  if (p === 'generate' && hasGenerator && models) await expect(page.getByTestId('generate')).toBeEnabled(LOAD);
  if (p === 'about' && m) await expect(page.getByTestId(/^about-/).first()).toBeVisible();
}

/** Serious and critical axe findings, one readable line each. */
async function axeProblems(page: Page, where: string, testInfo: TestInfo): Promise<string[]> {
  // colours are measured once they have settled (a switch of colour scheme fades them), with the
  // pointer out of the way (hover colours are a state of their own)
  await page.mouse.move(0, 0);
  await page.waitForFunction(() => document.getAnimations().every((a) => !(a instanceof CSSTransition) || a.playState !== 'running'));
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  // every finding (minor and moderate ones too) for a reader: Playwright's output folder
  if (r.violations.length) writeFileSync(testInfo.outputPath(`axe-${where}.json`), JSON.stringify(r.violations, null, 2));
  return bad.map((v) => `${where}: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(' | ')}`);
}

test.describe('accessibility', () => {
  test('no serious or critical axe violations on any page, light and dark', async ({ page }, testInfo) => {
    const problems: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      for (const p of PAGES) {
        await page.goto(`#/${p}`);
        await ready(page, p);
        problems.push(...(await axeProblems(page, `${p}-${colorScheme}`, testInfo)));
      }
      // with results on the page: a classified photo, generated cats, the About page's details
      if (hasClassifier) {
        await page.goto('#/classify');
        await page.getByTestId('file-input').setInputFiles(resolve(FIXTURES, 'Bengal_1.jpg'));
        await expect(page.getByTestId('top-breed')).not.toBeEmpty(LOAD);
        await page.getByTestId('cam-toggle').click();
        problems.push(...(await axeProblems(page, `classify-result-${colorScheme}`, testInfo)));
      }
      if (hasGenerator) {
        await page.goto(`#/generate?breed=siamese&seed=7&steps=2&cfg=3&solver=euler&n=4&size=${m!.models.generator!.image_size}`);
        await expect(page.getByTestId('gen-ms')).toBeVisible(LOAD);
        if (hasClassifier) await expect(page.getByTestId('badge-0')).toBeVisible(LOAD);
        problems.push(...(await axeProblems(page, `generate-result-${colorScheme}`, testInfo)));
      }
      if (m) {
        await page.goto('#/about');
        await ready(page, 'about');
        for (const b of await page.getByTestId(/^details-/).all()) await b.click();
        problems.push(...(await axeProblems(page, `about-details-${colorScheme}`, testInfo)));
      }
    }
    expect(problems).toEqual([]);
  });

  test('every control can be reached with the keyboard and shows a focus ring', async ({ page }) => {
    /** Tab until the focused element matches, and return its focus ring. */
    const tabTo = async (selector: string, max = 80) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((s) => !!document.activeElement?.matches(s), selector)) {
          // the ring is drawn on the next frames (MUI marks keyboard focus after the focus event)
          const ring = () => {
            const cs = getComputedStyle(document.activeElement!);
            return { outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2, shadow: cs.boxShadow !== 'none' };
          };
          await page
            .waitForFunction(() => {
              const cs = getComputedStyle(document.activeElement!);
              return cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
            }, null, { timeout: 2000 })
            .catch(() => {});
          return page.evaluate(ring);
        }
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    // the app's ring is an outline (theme.ts), on every kind of control
    const ringed = (r: { outline: boolean; shadow: boolean }) => r.outline;

    await page.goto('#/classify');
    await ready(page, 'classify', true);
    expect(ringed(await tabTo('[data-testid="nav-generate"]'))).toBe(true);
    expect(ringed(await tabTo('[data-testid="pick"]'))).toBe(true);
    if (hasClassifier) {
      expect(ringed(await tabTo('[data-testid^="sample-"]'))).toBe(true);
      await page.keyboard.press('Enter');
      await expect(page.getByTestId('top-breed')).not.toBeEmpty(LOAD);
    }

    if (hasGenerator) {
      await page.goto(`#/generate?breed=siamese&steps=2&size=${m!.models.generator!.image_size}`);
      await ready(page, 'generate', true);
      expect(ringed(await tabTo('[data-testid^="breed-"]'))).toBe(true);
      await page.keyboard.press('Enter');
      await expect(page).not.toHaveURL(/breed=siamese/);
      expect(ringed(await tabTo('[data-testid="generate"]'))).toBe(true);
      await page.keyboard.press('Enter');
      await expect(page.getByTestId('gen-ms')).toBeVisible(LOAD);
    }

    await page.goto('#/about');
    await ready(page, 'about');
    if (m) {
      expect(ringed(await tabTo('[data-testid^="details-"]'))).toBe(true);
      await page.keyboard.press('Enter');
      await expect(page.locator('[data-testid^="details-"]').first()).toHaveAttribute('aria-expanded', 'true');
      await expect(page.locator('[data-testid^="metrics-"]').first()).toBeVisible();
    }
  });
});

test.describe('small screens', () => {
  test('the navigation fits 390 and 360 px wide; screenshots at 390 x 844', async ({ page }, testInfo) => {
    for (const width of [390, 360]) {
      await page.setViewportSize({ width, height: 844 });
      for (const p of PAGES) {
        await page.goto(`#/${p}`);
        await ready(page, p);
        const nav = page.getByRole('navigation', { name: 'Pages' });
        await expect(nav).toBeVisible();
        for (const q of PAGES) {
          const item = nav.getByRole('link', { name: new RegExp(q, 'i') });
          await expect(item).toBeInViewport({ ratio: 1 });
          const box = (await item.boundingBox())!;
          expect(box.x).toBeGreaterThanOrEqual(0);
          expect(box.x + box.width).toBeLessThanOrEqual(width);
          // the label is not cut: its text lies inside the item
          const text = await item.evaluate((e) => {
            const r = document.createRange();
            r.selectNodeContents(e);
            const t = r.getBoundingClientRect();
            const b = e.getBoundingClientRect();
            return { left: t.left - b.left, right: b.right - t.right };
          });
          expect(text.left).toBeGreaterThanOrEqual(0);
          expect(text.right).toBeGreaterThanOrEqual(0);
        }
        await expect(nav.getByRole('link', { name: new RegExp(p, 'i') })).toHaveAttribute('aria-current', 'page');
        // nothing wider than the screen
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        if (width === 390) await page.screenshot({ path: testInfo.outputPath(`${p}-${width}x844.png`) });
      }
    }
    // the bar navigates
    await page.goto('#/classify');
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: /about/i }).click();
    await expect(page).toHaveURL(/#\/about/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/about/i);
    // wide screens keep the pages in the top bar
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect(page.getByTestId('bottom-nav')).toBeHidden();
    await expect(page.getByTestId('nav-classify')).toBeInViewport({ ratio: 1 });
  });
});

test.describe('dark mode', () => {
  const luminance = (rgb: string) => {
    const [r, g, b] = rgb.match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number) as [number, number, number];
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  test('follows the system preference, dark and light', async ({ page }, testInfo) => {
    for (const colorScheme of ['dark', 'light'] as const) {
      await page.emulateMedia({ colorScheme });
      for (const p of PAGES) {
        await page.goto(`#/${p}`);
        await ready(page, p);
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        const fg = await page.getByRole('heading', { level: 1 }).evaluate((e) => getComputedStyle(e).color);
        if (colorScheme === 'dark') {
          expect(luminance(bg)).toBeLessThan(0.2);
          expect(luminance(fg)).toBeGreaterThan(0.8);
        } else {
          expect(luminance(bg)).toBeGreaterThan(0.8);
          expect(luminance(fg)).toBeLessThan(0.3);
        }
        await page.screenshot({ path: testInfo.outputPath(`${p}-${colorScheme}.png`), fullPage: true });
      }
    }
  });
});

test.describe('generated cats on screen', () => {
  test.skip(!hasGenerator, 'no generator exported yet');
  const link = () => `#/generate?breed=siamese&seed=7&steps=3&cfg=3&solver=euler&n=1&size=${m!.models.generator!.image_size}`;

  /** Counts the frames drawn into the first generated canvas. */
  const countFrames = () => {
    const put = CanvasRenderingContext2D.prototype.putImageData;
    (window as unknown as { __frames: number }).__frames = 0;
    CanvasRenderingContext2D.prototype.putImageData = function (this: CanvasRenderingContext2D, ...args: unknown[]) {
      if (this.canvas.dataset.testid === 'generated') (window as unknown as { __frames: number }).__frames++;
      return (put as (...a: unknown[]) => void).apply(this, args);
    } as typeof put;
  };
  const frames = (page: Page) => page.evaluate(() => (window as unknown as { __frames: number }).__frames);

  test('the live preview shows the steps, and stops when less motion is asked for', async ({ page }) => {
    await page.addInitScript(countFrames);
    for (const reducedMotion of ['no-preference', 'reduce'] as const) {
      await page.emulateMedia({ reducedMotion });
      await page.goto('about:blank');
      await page.goto(link());
      await expect(page.getByTestId('gen-ms')).toBeVisible(LOAD);
      const n = await frames(page);
      // the preview draws every step (3 Euler steps: 3 frames and the final image); without it
      // only the finished cat is drawn
      if (reducedMotion === 'reduce') expect(n).toBe(1);
      else expect(n).toBeGreaterThan(2);
    }
  });

  test('smooth scaling on screen and in the enlarged download; sharp pixels on request', async ({ page }) => {
    await page.goto(link());
    await expect(page.getByTestId('gen-ms')).toBeVisible(LOAD);
    const rendering = () => page.getByTestId('generated').evaluate((c) => getComputedStyle(c).imageRendering);
    expect(await rendering()).toBe('auto');
    await page.getByTestId('pixelated-toggle').click();
    expect(await rendering()).toBe('pixelated');
    await page.getByTestId('pixelated-toggle').click();
    expect(await rendering()).toBe('auto');

    const download = page.waitForEvent('download');
    await page.getByTestId('download-x4-0').click();
    const png = readFileSync((await (await download).path())!).toString('base64');
    // decode it in the page: a nearest-neighbour enlargement would repeat each pixel in 4x4 blocks
    const r = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let uniform = 0;
      let blocks = 0;
      for (let y = 0; y < c.height; y += 4) {
        for (let x = 0; x < c.width; x += 4) {
          blocks++;
          const i0 = (y * c.width + x) * 4;
          let same = true;
          for (let dy = 0; dy < 4 && same; dy++) for (let dx = 0; dx < 4 && same; dx++) {
            const i = ((y + dy) * c.width + x + dx) * 4;
            same = d[i] === d[i0] && d[i + 1] === d[i0 + 1] && d[i + 2] === d[i0 + 2];
          }
          if (same) uniform++;
        }
      }
      return { w: img.width, uniformShare: uniform / blocks };
    }, png);
    expect(r.w).toBe(4 * m!.models.generator!.image_size);
    expect(r.uniformShare).toBeLessThan(0.2);
  });
});

test.describe('about', () => {
  test.skip(!m, 'no model exported yet');

  test('figures in words from the manifest; raw figures behind a toggle', async ({ page }, testInfo) => {
    await page.goto('#/about');
    await ready(page, 'about');
    const raw = JSON.stringify(m);
    const cm = m!.models.classifier?.metrics as Record<string, Record<string, number>> | undefined;
    if (cm) {
      const text = (await page.getByTestId('figures-classify').textContent()) ?? '';
      // no raw manifest keys in the sentences
      expect(text).not.toMatch(/onnx_|top1_breeds|_from_64px/);
      const block = Object.entries(cm).find(([k, v]) => k.startsWith('onnx_') && !k.endsWith('_from_64px') && typeof v === 'object' && 'top1_breeds' in v);
      if (block) {
        const [, v] = block;
        if (v.images) expect(text).toContain(v.images.toLocaleString('en-US'));
        await expect(page.getByTestId('table-classify')).toBeVisible();
      }
    }
    // the raw keys are there, but only once asked for
    if (raw.includes('"metrics"')) {
      const details = page.getByTestId(/^details-/).first();
      await expect(details).toHaveAttribute('aria-expanded', 'false');
      await expect(page.getByTestId(/^metrics-/)).toHaveCount(0);
      await details.click();
      await expect(page.getByTestId(/^metrics-/).first()).toBeVisible();
      await expect(page.getByTestId(/^metrics-/).first()).toContainText('metrics.');
    }
    await page.screenshot({ path: testInfo.outputPath('about.png'), fullPage: true });
  });
});

test.describe('about, with per-breed figures and a confusion matrix', () => {
  // the figures `tinycats eval classifier` / `eval generator` measured (reports/*.json), put into
  // the manifest the page reads, as an evaluation that writes them there would
  const clf = resolve(REPO, 'reports/classifier.json');
  const gen = resolve(REPO, 'reports/generator.json');
  test.skip(!m?.models.classifier || !existsSync(clf), 'no classifier report');
  // the manifest is changed on its way in: no service worker in between
  test.use({ serviceWorkers: 'block' });

  test('bars per breed and the confusion matrix, from the manifest', async ({ page }, testInfo) => {
    const rep = JSON.parse(readFileSync(clf, 'utf8')) as { results: Record<string, { per_breed: Record<string, number>; confusion: number[][] }> };
    const g = existsSync(gen) ? (JSON.parse(readFileSync(gen, 'utf8')) as { breed_accuracy: { per_breed: Record<string, number> }; fid: { real_vs_real_reference: number } }) : null;
    await page.route('**/models/manifest.json', async (route) => {
      const res = await route.fetch();
      const man = (await res.json()) as { models: Record<string, { metrics?: Record<string, Record<string, unknown>> }> };
      const metrics = man.models.classifier!.metrics!;
      for (const [k, v] of Object.entries(rep.results)) if (metrics[k]) Object.assign(metrics[k]!, { per_breed: v.per_breed, confusion: v.confusion });
      if (g && man.models.generator?.metrics) {
        Object.assign(man.models.generator.metrics, { breed_accuracy_per_breed: g.breed_accuracy.per_breed, fid_real_vs_real_reference: g.fid.real_vs_real_reference });
      }
      await route.fulfill({ response: res, json: man });
    });
    await page.goto('#/about');
    await ready(page, 'about');
    const bars = page.getByTestId('per-breed-classify');
    await expect(bars).toBeVisible();
    const labels = m!.models.classifier!.labels;
    // one bar per breed, its figure written out
    const shown = (await page.getByTestId('figures-classify').textContent())!;
    const headline = Object.entries(rep.results).find(([k]) => shown.includes(`the ${k.replace('onnx_', '')} file`));
    expect(headline).toBeDefined();
    for (const [key, acc] of Object.entries(headline![1].per_breed)) {
      const label = labels.find((l) => l.key === key)!.display;
      await expect(bars.getByTestId(`per-breed-classify-${key}`)).toContainText(label);
      await expect(bars.getByTestId(`per-breed-classify-${key}`)).toContainText(percent(acc));
    }
    // the matrix: a picture with a summary of what it shows
    const matrix = page.getByTestId('confusion-classify').getByRole('img');
    await expect(matrix).toBeVisible();
    const total = headline![1].confusion.flat().reduce((a, b) => a + b, 0);
    await expect(matrix).toHaveAttribute('aria-label', new RegExp(`of ${total} test photos`));
    if (g) {
      await expect(page.getByTestId('per-breed-generate')).toBeVisible();
      await expect(page.getByTestId('figures-generate')).toContainText(`two sets of real cat photos score ${g.fid.real_vs_real_reference.toFixed(1)}`);
    }
    expect(await new AxeBuilder({ page }).analyze().then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id))).toEqual([]);
    await page.screenshot({ path: testInfo.outputPath('about-charts.png'), fullPage: true });
  });
});
