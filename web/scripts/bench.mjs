#!/usr/bin/env node
// `npm run bench`: real browser measurements of the production build, printed as figures.
//
//   - classify: one image, median/p90 latency after warm-up (Benchmark page, default variant)
//   - generate: one 64x64 cat at the manifest's default settings (steps, solver, guidance)
//   - upscale (when the manifest has an upscaler): one 128x128 cat, generator then upscaler at
//     their defaults; each timed run also times its 64 px stage alone, so both figures and their
//     ratio come from the same runs (WASM, 2 threads unless --threads says otherwise)
//   - page ready with the models cached: navigation start -> the page's models loaded
//   - native: the same classify / cat / 128 px cat units in native onnxruntime on the same CPU
//     (`tinycats bench native`, the repository's .venv or TINYCATS_BIN), right after the browser
//     runs, with the variants the browser used; the browser / native ratios (target <= 2x)
//
// Runs Debian's Chromium (WASM backend, as many threads as the page gets) against `vite preview`
// (COOP/COEP like `tinycats serve`), in a fresh browser profile on disk (like a real browser: HTTP
// cache, WebAssembly code cache, Cache Storage), removed afterwards.
// "Page ready" is the page's own model: the classifier on Classify, the generator on Generate
// (the classifier for the badges starts after it; its time is printed too, not a target).
// Options: --runs N, --warmup N, --gen-runs N, --ready-runs N, --check (exit 1 when a figure misses
// its target), --json FILE, --threads N, --variant V (all models), --classifier-variant V,
// --generator-variant V, --upscaler-variant V, --opt LEVEL (onnxruntime graph optimisation, all
// models), --only classify,generate,upscale,ready (a subset), --no-native (skip the native
// figures). Defaults: the app's own choices.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
const VARIANTS = { classifier: opt('--classifier-variant', VARIANT), generator: opt('--generator-variant', VARIANT), upscaler: opt('--upscaler-variant', VARIANT) };
// the two-stage figures are compared at a fixed thread count: 2, the machine the targets are set for
const UPSCALE_THREADS = THREADS || '2';
const OPT = opt('--opt', ''); // default: the app's (engine/manifest.ts: optimizationFor)
const ONLY = new Set(opt('--only', 'classify,generate,upscale,ready').split(','));
const TARGETS = { classifyMs: 25, generateMs: 2000, readyMs: 1000, nativeRatio: 2 };
const NATIVE = !args.includes('--no-native');

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

const profile = mkdtempSync(join(tmpdir(), 'tinycats-bench-'));
process.on('exit', () => rmSync(profile, { recursive: true, force: true }));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] ?? (await context.newPage());
const browserVersion = (await (await context.newCDPSession(page)).send('Browser.getVersion')).product.replace(/^\D+\//, '');
page.on('pageerror', (e) => console.error('page error:', e.message));
const load = () => loadavg().map((x) => Number(x.toFixed(2)));
const loadBefore = load();

async function benchPage(model, runs, warmup, threads = THREADS) {
  await page.goto('about:blank');
  const v = VARIANTS[model];
  const extra = `${threads ? `&threads=${threads}` : ''}${v ? `&variant=${v}` : ''}${OPT ? `&opt=${OPT}` : ''}`;
  await page.goto(`${base}#/benchmark?model=${model}&runs=${runs}&warmup=${warmup}${extra}&auto=1`);
  await page.waitForFunction(() => (window.__tinycatsBench?.length ?? 0) > 0, null, { timeout: 600_000, polling: 500 });
  return (await page.evaluate(() => window.__tinycatsBench))[0];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** Navigation start -> the page's own models loaded; `after` (not a target): models the page loads next. */
async function readyTimes(hash, models, after) {
  const times = [];
  const all = [...models, ...after];
  for (let i = 0; i < READY_RUNS + 1; i++) {
    await page.goto('about:blank');
    await page.goto(`${base}${hash}`);
    await page.waitForFunction((ms) => ms.every((m) => window.__tinycats?.ready?.[m] !== undefined), all, { timeout: 120_000, polling: 10 });
    const t = await page.evaluate(
      ([ms, as]) => ({
        ready: Math.max(...ms.map((m) => window.__tinycats.ready[m])),
        after: Object.fromEntries(as.map((m) => [m, window.__tinycats.ready[m]])),
        cached: ms.every((m) => window.__tinycats.loads[m].fromCache),
        stages: Object.fromEntries(
          ms.map((m) => {
            const t = window.__tinycats;
            const l = t.loads[m];
            return [m, { requestedAtMs: t.requested[m], loadSentAtMs: t.loadSent[m], ...l.stages, variant: l.variant, optimization: l.optimization, threads: l.threads }];
          }),
        ),
      }),
      [models, after],
    );
    if (i > 0) times.push(t); // the first visit fills the cache
  }
  const r = { medianMs: median(times.map((t) => t.ready)), allCached: times.every((t) => t.cached), samplesMs: times.map((t) => t.ready), stages: times.map((t) => t.stages) };
  for (const m of after) r[`${m}ReadyAfterMedianMs`] = median(times.map((t) => t.after[m]));
  return r;
}

// The command goes into the JSON so the README's caption names the run that made it (tinycats report).
const command = ['cd web && node scripts/bench.mjs', ...args].join(' ');
const result = { command, when: new Date().toISOString(), browser: `Chromium ${browserVersion}`, targets: TARGETS, machine: { cpus: cpus().length, model: cpus()[0]?.model } };
const lines = [];
const verdict = (ok) => (ok ? 'OK' : 'OVER TARGET');
let failed = false;

if (manifest.models.classifier && ONLY.has('classify')) {
  const r = await benchPage('classifier', RUNS, WARMUP);
  result.classify = r;
  const ok = r.latencyMs.median <= TARGETS.classifyMs;
  failed ||= !ok;
  lines.push(
    `classify (${r.unit}; ${r.variant}, opt ${r.optimization}, ${r.backend} ${r.threads} thread(s)): median ${r.latencyMs.median.toFixed(2)} ms, p90 ${r.latencyMs.p90.toFixed(2)} ms, ${r.imagesPerSecond.toFixed(1)} images/s, ${r.runs} runs after ${r.warmup} warm-up [target <= ${TARGETS.classifyMs} ms: ${verdict(ok)}]`,
  );
}
if (manifest.models.generator && ONLY.has('generate')) {
  const r = await benchPage('generator', GEN_RUNS, 2);
  result.generate = r;
  const ok = r.latencyMs.median <= TARGETS.generateMs;
  failed ||= !ok;
  lines.push(
    `generate (${r.unit}; ${r.variant}, opt ${r.optimization}, ${r.backend} ${r.threads} thread(s)): median ${(r.latencyMs.median / 1000).toFixed(3)} s, p90 ${(r.latencyMs.p90 / 1000).toFixed(3)} s, ${r.runs} runs after ${r.warmup} warm-up [target <= ${TARGETS.generateMs / 1000} s: ${verdict(ok)}]`,
  );
}
if (manifest.models.generator && manifest.models.upscaler && ONLY.has('upscale')) {
  const r = await benchPage('upscaler', GEN_RUNS, 2, UPSCALE_THREADS);
  result.upscale = r;
  const b = r.base;
  const small = manifest.models.generator.image_size;
  const big = manifest.models.upscaler.image_size;
  const s = (ms) => `${(ms / 1000).toFixed(3)} s`;
  lines.push(
    `upscale (${r.unit}; generator ${b.variant} opt ${b.optimization} + upscaler ${r.variant} opt ${r.optimization}, ${r.backend} ${r.threads} thread(s)), per cat, the same ${r.runs} runs after ${r.warmup} warm-up:` +
      `\n      ${small} px stage alone: median ${s(b.latencyMs.median)}, p90 ${s(b.latencyMs.p90)}` +
      `\n      ${small} px + upscaler to ${big} px: median ${s(r.latencyMs.median)}, p90 ${s(r.latencyMs.p90)}` +
      `\n      ratio (median ${big} px / median ${small} px): ${b.ratio.toFixed(2)}x`,
  );
}
result.ready = {};
const q = (m) => (VARIANTS[m] ? `variant=${VARIANTS[m]}&` : '');
for (const [name, hash, models, after] of [
  ['classify', `#/classify`, ['classifier'], []],
  ['generate', `#/generate?${q('generator')}`.replace(/[?&]$/, ''), ['generator'], ['upscaler', 'classifier']],
]) {
  if (!ONLY.has('ready')) break;
  const ms = models.filter((m) => manifest.models[m]);
  if (!ms.length) continue;
  const r = await readyTimes(hash, ms, after.filter((m) => manifest.models[m]));
  result.ready[name] = r;
  const ok = r.medianMs < TARGETS.readyMs && r.allCached;
  failed ||= !ok;
  const st = (k) => median(r.stages.map((s) => s[ms[0]][k])).toFixed(0);
  const s0 = r.stages[0][ms[0]];
  lines.push(
    `page ready, models cached (${name} page: ${ms.join(' + ')}, ${s0.variant}, opt ${s0.optimization}, ${s0.threads} thread(s)): median ${r.medianMs.toFixed(0)} ms over ${READY_RUNS} reloads${r.allCached ? '' : ' (NOT all from cache)'} [target < ${TARGETS.readyMs} ms: ${verdict(ok)}]` +
      `\n      medians: model asked for at ${st('requestedAtMs')} ms, load sent to the worker at ${st('loadSentAtMs')} ms; in the worker: bytes from cache + sha256 ${st('fetchMs')} ms, then waiting for the runtime ${st('runtimeWaitMs')} ms (its start, in parallel with the bytes: ${st('runtimeStartMs')} ms, of which module import ${st('runtimeImportMs')} ms), session ${st('sessionMs')} ms (load total ${st('totalMs')} ms)` +
      after.map((m) => (r[`${m}ReadyAfterMedianMs`] !== undefined ? `; ${m} (loaded next${m === 'classifier' ? ', for the badges' : ''}) ready at ${r[`${m}ReadyAfterMedianMs`].toFixed(0)} ms` : '')).join(''),
  );
}
result.loadAverage = { before: loadBefore, after: load() };
await context.close();
rmSync(profile, { recursive: true, force: true });
stop();

/** The browser's units in native onnxruntime, after the browser is closed (no CPU shared). */
function nativeFigures() {
  const units = [['classify', result.classify], ['generate', result.generate], ['upscale', result.upscale]].filter(([, r]) => r);
  if (!NATIVE || !units.length) return undefined;
  const venv = resolve(WEB, '../.venv/bin/tinycats');
  const bin = process.env.TINYCATS_BIN ?? (existsSync(venv) ? venv : 'tinycats');
  const cli = ['bench', 'native', '--model-dir', resolve(WEB, 'dist/models'), '--only', units.map(([u]) => u).join(','), '--threads', String(units[0][1].threads), '--runs', String(RUNS), '--warmup', String(WARMUP), '--gen-runs', String(GEN_RUNS), '--json', '-'];
  const variant = (flag, v) => (v ? [flag, v] : []);
  cli.push(...variant('--classifier-variant', result.classify?.variant), ...variant('--generator-variant', result.generate?.variant ?? result.upscale?.base?.variant), ...variant('--upscaler-variant', result.upscale?.variant));
  const r = spawnSync(bin, cli, { encoding: 'utf8' });
  if (r.status !== 0) {
    lines.push(`native figures: \`${bin} ${cli.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').pop()}`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const native = nativeFigures();
if (native) {
  result.native = native;
  result.machine = native.cpu; // the project's way to name a machine: '2-vCPU Intel Xeon, AVX-512 + AMX'
  result.ratios = {};
  lines.push(`native (${native.runtime}, ${native.cpu}, ${native.threads} thread(s)), the same units right after the browser runs:`);
  for (const unit of ['classify', 'generate', 'upscale']) {
    const b = result[unit];
    const n = native[unit];
    if (!b || !n) continue;
    const ratio = b.latencyMs.median / n.latencyMs.median;
    result.ratios[unit] = ratio;
    const ok = ratio <= TARGETS.nativeRatio;
    failed ||= !ok;
    lines.push(`      ${unit} (${n.variant}): native median ${n.latencyMs.median.toFixed(1)} ms, browser ${b.latencyMs.median.toFixed(1)} ms: ${ratio.toFixed(2)}x [target <= ${TARGETS.nativeRatio}x: ${verdict(ok)}]`);
  }
}

const runs = [result.classify, result.generate, result.upscale].filter(Boolean);
const isolated = runs.length ? runs.every((r) => r.isolated) : undefined;
const threads = [...new Set(runs.map((r) => r.threads))];
console.log(
  `tinycats web benchmark: ${result.browser}, ${result.native?.cpu ?? `${result.machine.cpus} CPU(s) ${result.machine.model}`}, ${isolated === undefined ? '' : isolated ? 'cross-origin isolated, ' : 'NOT isolated, '}${threads.length ? `WASM threads ${threads.join('/')}, ` : ''}load average ${result.loadAverage.before.join(' ')} before / ${result.loadAverage.after.join(' ')} after`,
);
for (const l of lines) console.log(`  ${l}`);
mkdirSync(dirname(JSON_OUT), { recursive: true });
writeFileSync(JSON_OUT, JSON.stringify(result, null, 2));
console.log(`  (all figures: ${JSON_OUT})`);
process.exit(CHECK && failed ? 1 : 0);
