#!/usr/bin/env node
// `npm run bench`: real browser measurements of the production build, printed as figures.
//
//   - classify: one image, median/p90 latency after warm-up (Benchmark page, default variant)
//   - generate: one 64x64 cat at the manifest's default settings (steps, solver, guidance)
//   - page ready with the models cached: navigation start -> the page's models loaded
//
// Runs Debian's Chromium (WASM backend, as many threads as the page gets) against `vite preview`
// (COOP/COEP like `tinycats serve`). Options: --runs N, --gen-runs N, --check (exit 1 when a figure
// misses its target), --json FILE, --threads N, --variant V (both models; default: the app's choice).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt('--runs', 100));
const WARMUP = Number(opt('--warmup', 30));
const GEN_RUNS = Number(opt('--gen-runs', 5));
const READY_RUNS = Number(opt('--ready-runs', 5));
const CHECK = args.includes('--check');
const JSON_OUT = opt('--json', resolve(WEB, 'test-results/bench.json'));
const PORT = Number(opt('--port', 4175));
const THREADS = opt('--threads', ''); // default: the app's (min(4, cores) when isolated)
const VARIANT = opt('--variant', ''); // default: the app's choice for WASM
const TARGETS = { classifyMs: 25, generateMs: 2000, readyMs: 1000 };

if (!existsSync(resolve(WEB, 'dist/index.html'))) {
  console.error('no build: run `npm run build` (or `make web-build`) first');
  process.exit(2);
}
const manifestPath = resolve(WEB, 'dist/models/manifest.json');
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { models: {} };
if (!manifest.models.classifier && !manifest.models.generator) {
  console.error('the build has no models (dist/models/manifest.json): export them first');
  process.exit(2);
}

const server = spawn('npx', ['vite', 'preview', '--port', String(PORT), '--strictPort', '--host', '127.0.0.1'], { cwd: WEB, stdio: 'ignore', detached: true });
const stop = () => {
  try {
    process.kill(-server.pid);
  } catch {
    /* already gone */
  }
};
process.on('exit', stop);
const base = `http://127.0.0.1:${PORT}/`;
for (let i = 0; ; i++) {
  try {
    await fetch(base);
    break;
  } catch {
    if (i > 100) throw new Error('vite preview did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext();
const page = await context.newPage();
page.on('pageerror', (e) => console.error('page error:', e.message));

async function benchPage(model, runs, warmup) {
  await page.goto('about:blank');
  const extra = `${THREADS ? `&threads=${THREADS}` : ''}${VARIANT ? `&variant=${VARIANT}` : ''}`;
  await page.goto(`${base}#/benchmark?model=${model}&runs=${runs}&warmup=${warmup}${extra}&auto=1`);
  await page.waitForFunction(() => (window.__tinycatsBench?.length ?? 0) > 0, null, { timeout: 600_000, polling: 500 });
  return (await page.evaluate(() => window.__tinycatsBench))[0];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

async function readyTimes(hash, models) {
  const times = [];
  for (let i = 0; i < READY_RUNS + 1; i++) {
    await page.goto('about:blank');
    await page.goto(`${base}${hash}`);
    await page.waitForFunction((ms) => ms.every((m) => window.__tinycats?.ready?.[m] !== undefined), models, { timeout: 120_000, polling: 20 });
    const t = await page.evaluate((ms) => ({ ready: Math.max(...ms.map((m) => window.__tinycats.ready[m])), cached: ms.every((m) => window.__tinycats.loads[m].fromCache) }), models);
    if (i > 0) times.push(t); // the first visit fills the cache
  }
  return { medianMs: median(times.map((t) => t.ready)), allCached: times.every((t) => t.cached), samplesMs: times.map((t) => t.ready) };
}

const result = { when: new Date().toISOString(), browser: `Chromium ${browser.version()}`, targets: TARGETS };
const lines = [];
const verdict = (ok) => (ok ? 'OK' : 'OVER TARGET');
let failed = false;

if (manifest.models.classifier) {
  const r = await benchPage('classifier', RUNS, WARMUP);
  result.classify = r;
  const ok = r.latencyMs.median <= TARGETS.classifyMs;
  failed ||= !ok;
  lines.push(
    `classify (${r.unit}; ${r.variant}, ${r.backend} ${r.threads} thread(s)): median ${r.latencyMs.median.toFixed(2)} ms, p90 ${r.latencyMs.p90.toFixed(2)} ms, ${r.imagesPerSecond.toFixed(1)} images/s, ${r.runs} runs after ${r.warmup} warm-up [target <= ${TARGETS.classifyMs} ms: ${verdict(ok)}]`,
  );
}
if (manifest.models.generator) {
  const r = await benchPage('generator', GEN_RUNS, 2);
  result.generate = r;
  const ok = r.latencyMs.median <= TARGETS.generateMs;
  failed ||= !ok;
  lines.push(
    `generate (${r.unit}; ${r.variant}, ${r.backend} ${r.threads} thread(s)): median ${(r.latencyMs.median / 1000).toFixed(3)} s, p90 ${(r.latencyMs.p90 / 1000).toFixed(3)} s, ${r.runs} runs after ${r.warmup} warm-up [target <= ${TARGETS.generateMs / 1000} s: ${verdict(ok)}]`,
  );
}
result.ready = {};
for (const [name, hash, models] of [
  ['classify', '#/classify', ['classifier']],
  ['generate', '#/generate', ['generator', 'classifier']],
]) {
  const ms = models.filter((m) => manifest.models[m]);
  if (!ms.length) continue;
  const r = await readyTimes(hash, ms);
  result.ready[name] = r;
  const ok = r.medianMs < TARGETS.readyMs && r.allCached;
  failed ||= !ok;
  lines.push(`page ready, models cached (${name} page: ${ms.join(' + ')}): median ${r.medianMs.toFixed(0)} ms over ${READY_RUNS} reloads${r.allCached ? '' : ' (NOT all from cache)'} [target < ${TARGETS.readyMs} ms: ${verdict(ok)}]`);
}
await browser.close();
stop();

console.log(`tinycats web benchmark: ${result.browser}, ${result.classify?.isolated ?? result.generate?.isolated ? 'cross-origin isolated' : 'NOT isolated'}`);
for (const l of lines) console.log(`  ${l}`);
mkdirSync(dirname(JSON_OUT), { recursive: true });
writeFileSync(JSON_OUT, JSON.stringify(result, null, 2));
console.log(`  (all figures: ${JSON_OUT})`);
process.exit(CHECK && failed ? 1 : 0);
