import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';

export const WEB = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const REPO = resolve(WEB, '..');
export const FIXTURES = resolve(REPO, 'tests/fixtures/oxford-mini/images');
export const SHOTS = resolve(WEB, 'test-results/screenshots');
mkdirSync(SHOTS, { recursive: true });

interface BuiltManifest {
  models: {
    classifier?: { labels: { key: string; display: string }[]; metrics?: Record<string, unknown>; input: { unblock?: boolean } };
    generator?: { image_size: number; classes: { key: string; display: string }[]; null_class: number; sampler: { shift: number } };
    upscaler?: { image_size: number; cond_size: number; sampler: { default_steps: number; solver: string; shift: number; s: number } };
  };
}

/** The manifest the production build serves (dist/models), or null when no model is exported. */
export function builtManifest(): BuiltManifest | null {
  const p = resolve(WEB, 'dist/models/manifest.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as BuiltManifest) : null;
}

export async function shot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: resolve(SHOTS, `${name}.png`), fullPage: true });
}

/** RGBA pixels of a canvas on the page. */
export async function canvasPixels(page: Page, testId: string): Promise<number[]> {
  return page.getByTestId(testId).evaluate((c: HTMLCanvasElement) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data));
}
