// Draws the app icons of the web app manifest (public/icons/*.png) from public/favicon.svg with
// Debian's Chromium: `node scripts/make_icons.mjs`. "any" icons are the rounded logo; the
// maskable one fills the square with the logo's gradient and keeps the cat inside the safe zone.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';

const WEB = resolve(fileURLToPath(new URL('..', import.meta.url)));
const svg = readFileSync(resolve(WEB, 'public/favicon.svg'), 'utf8');
// the maskable icon: no rounded corners, the drawing at 70% of the size, centred
const maskable = svg
  .replace('<rect width="64" height="64" rx="16" fill="url(#g)"/>', '<rect width="64" height="64" fill="url(#g)"/><g transform="translate(9.6 7.6) scale(0.7)">')
  .replace('</svg>', '</g></svg>');

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
for (const [name, src, size] of [
  ['icon-192.png', svg, 192],
  ['icon-512.png', svg, 512],
  ['icon-maskable-512.png', maskable, 512],
]) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<html><body style="margin:0;background:transparent">${src.replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
  await page.locator('svg').screenshot({ path: resolve(WEB, 'public/icons', name), omitBackground: true });
  console.log(`public/icons/${name}`);
}
await browser.close();
