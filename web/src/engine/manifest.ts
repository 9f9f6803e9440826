// manifest.json (schema: docs/manifest.md): the only place the app learns labels, input size,
// normalisation, the sampler contract, file names, sizes and sha256. Nothing about the models
// is hard-coded anywhere else in the app.

export const MANIFEST_FORMAT = 'tinycats-manifest';
export const MANIFEST_VERSION = 1;

export interface Label {
  id: number;
  key: string;
  display: string;
}

export interface FileEntry {
  file: string;
  bytes: number;
  sha256: string;
  /** anything else the exporter measured (e.g. parity_vs_torch) */
  info?: Record<string, unknown>;
}

export type Metrics = Record<string, unknown>;

interface ModelCommon {
  files: Record<string, FileEntry>;
  default_variant: string;
  metrics?: Metrics;
  /** fields this app does not interpret (architecture, training summary, ...), shown on About */
  extra: Record<string, unknown>;
  exported?: string;
  producer?: Record<string, string>;
}

export interface ClassifierInput {
  name: string;
  layout: 'NCHW';
  size: number;
  channels: 'RGB';
  resize: 'shorter_side_then_center_crop';
  /** undo a nearest-neighbour enlargement before resizing (engine/preprocess.ts: unblockRGB) */
  unblock: boolean;
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface ClassifierEntry extends ModelCommon {
  task: 'classify';
  labels: Label[];
  other_id: number;
  input: ClassifierInput;
  outputs: { probs: string; cam?: string };
  /** the label is `other_id` when probs[other_id] >= this (docs/manifest.md, "Classifier decision") */
  other_threshold?: number;
  /** the answer is "unsure" when the decided label's probability is under this (engine/decide.ts);
   * absent: never unsure */
  unsure_below?: number;
}

export interface SamplerSpec {
  time: 't0_noise_t1_data';
  t_eps: number;
  default_steps: number;
  default_cfg_scale: number;
  solver: 'euler' | 'heun';
  shift: number;
}

export interface GeneratorEntry extends ModelCommon {
  task: 'generate';
  image_size: number;
  channels: number;
  value_range: [number, number];
  classes: Label[];
  null_class: number;
  inputs: { x: string; t: string; y: string };
  output: string;
  prediction: 'x' | 'v';
  sampler: SamplerSpec;
  /** the breed (class key) and browser seed the Generate page opens on */
  showcase?: { class: string; seed: number };
}

/** The upscaler's sampler (docs/sampler.md, "The upscaler stage"): no guidance; `s` is the noise
 * level of its 64 px condition, fed to the network as its `s` input. */
export interface UpscalerSamplerSpec {
  time: 't0_noise_t1_data';
  t_eps: number;
  default_steps: number;
  solver: 'euler' | 'heun';
  shift: number;
  s: number;
}

export interface UpscalerEntry extends ModelCommon {
  task: 'upscale';
  /** the size it makes (128) */
  image_size: number;
  /** the size it takes: the generator's image_size (64) */
  cond_size: number;
  channels: number;
  value_range: [number, number];
  inputs: { x: string; t: string; cond: string; s: string };
  output: string;
  prediction: 'x';
  sampler: UpscalerSamplerSpec;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  models: { classifier?: ClassifierEntry; generator?: GeneratorEntry; upscaler?: UpscalerEntry };
}

export type ModelKey = 'classifier' | 'generator' | 'upscaler';
export type ModelEntry = ClassifierEntry | GeneratorEntry | UpscalerEntry;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function need(cond: unknown, where: string, what: string): asserts cond {
  if (!cond) throw new ManifestError(`manifest.json: ${where}: ${what}`);
}

function num(o: Obj, k: string, where: string): number {
  const v = o[k];
  need(typeof v === 'number' && Number.isFinite(v), where, `"${k}" must be a number`);
  return v;
}

/** An optional probability threshold: absent (or null, as the CLI reads it) is undefined, anything
 * else must be a number in [0, 1]: a threshold outside it would silently make every answer sure,
 * or every answer unsure. */
function optionalUnit(o: Obj, k: string, where: string): number | undefined {
  if (o[k] === undefined || o[k] === null) return undefined;
  const v = num(o, k, where);
  need(v >= 0 && v <= 1, where, `"${k}" must be between 0 and 1, not ${v}`);
  return v;
}

function str(o: Obj, k: string, where: string): string {
  const v = o[k];
  need(typeof v === 'string' && v.length > 0, where, `"${k}" must be a non-empty string`);
  return v;
}

function labels(v: unknown, where: string): Label[] {
  need(Array.isArray(v) && v.length > 0, where, 'must be a non-empty list');
  return v.map((l, i) => {
    need(isObj(l), `${where}[${i}]`, 'must be an object');
    const id = num(l, 'id', `${where}[${i}]`);
    need(id === i, `${where}[${i}]`, `id ${id} out of order (ids must be 0..n-1)`);
    return { id, key: str(l, 'key', `${where}[${i}]`), display: str(l, 'display', `${where}[${i}]`) };
  });
}

function files(o: Obj, where: string): Record<string, FileEntry> {
  const f = o.files;
  need(isObj(f) && Object.keys(f).length > 0, where, '"files" must list at least one variant');
  const out: Record<string, FileEntry> = {};
  for (const [variant, e] of Object.entries(f)) {
    const w = `${where}.files.${variant}`;
    need(isObj(e), w, 'must be an object');
    const file = str(e, 'file', w);
    need(!file.includes('/') && !file.includes('\\') && !file.startsWith('.'), w, `bad file name "${file}"`);
    const sha = str(e, 'sha256', w).toLowerCase();
    need(/^[0-9a-f]{64}$/.test(sha), w, '"sha256" must be 64 hex digits');
    const bytes = num(e, 'bytes', w);
    need(Number.isInteger(bytes) && bytes > 0, w, '"bytes" must be a positive integer');
    const info = Object.fromEntries(Object.entries(e).filter(([k]) => !['file', 'bytes', 'sha256'].includes(k)));
    out[variant] = { file, bytes, sha256: sha, ...(Object.keys(info).length ? { info } : {}) };
  }
  const dv = o.default_variant;
  need(typeof dv === 'string' && dv in out, where, `default_variant "${String(dv)}" is not in files`);
  return out;
}

function triple(v: unknown, where: string): [number, number, number] {
  need(Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number'), where, 'must be 3 numbers');
  return [v[0] as number, v[1] as number, v[2] as number];
}

const KNOWN = new Set(['task', 'labels', 'other_id', 'other_threshold', 'unsure_below', 'input', 'outputs', 'files', 'default_variant', 'metrics', 'exported', 'producer',
  'image_size', 'channels', 'value_range', 'classes', 'null_class', 'inputs', 'output', 'prediction', 'sampler', 'cond_size']);

function common(o: Obj, where: string): ModelCommon {
  return {
    extra: Object.fromEntries(Object.entries(o).filter(([k]) => !KNOWN.has(k))),
    files: files(o, where),
    default_variant: o.default_variant as string,
    metrics: isObj(o.metrics) ? o.metrics : undefined,
    exported: typeof o.exported === 'string' ? o.exported : undefined,
    producer: isObj(o.producer) ? (o.producer as Record<string, string>) : undefined,
  };
}

function parseClassifier(o: unknown): ClassifierEntry {
  const w = 'models.classifier';
  need(isObj(o), w, 'must be an object');
  need(o.task === 'classify', w, 'task must be "classify"');
  const labs = labels(o.labels, `${w}.labels`);
  const otherId = num(o, 'other_id', w);
  need(otherId >= 0 && otherId < labs.length, w, 'other_id is not a label id');
  const inp = o.input;
  need(isObj(inp), `${w}.input`, 'must be an object');
  const size = num(inp, 'size', `${w}.input`);
  need(Number.isInteger(size) && size >= 8 && size <= 1024, `${w}.input`, 'size must be an integer 8..1024');
  need(inp.layout === undefined || inp.layout === 'NCHW', `${w}.input`, 'only NCHW layout is supported');
  need(inp.channels === undefined || inp.channels === 'RGB', `${w}.input`, 'only RGB is supported');
  need(
    inp.resize === undefined || inp.resize === 'shorter_side_then_center_crop',
    `${w}.input`,
    `unsupported resize "${String(inp.resize)}"`,
  );
  const std = triple(inp.std, `${w}.input.std`);
  need(std.every((s) => s > 0), `${w}.input.std`, 'must be positive');
  need(inp.unblock === undefined || typeof inp.unblock === 'boolean', `${w}.input`, `"unblock" must be true or false, not ${JSON.stringify(inp.unblock)}`);
  const outs = o.outputs;
  need(isObj(outs), `${w}.outputs`, 'must be an object');
  return {
    ...common(o, w),
    task: 'classify',
    labels: labs,
    other_id: otherId,
    input: {
      name: str(inp, 'name', `${w}.input`),
      layout: 'NCHW',
      size,
      channels: 'RGB',
      resize: 'shorter_side_then_center_crop',
      unblock: inp.unblock === true,
      scale: num(inp, 'scale', `${w}.input`),
      mean: triple(inp.mean, `${w}.input.mean`),
      std,
    },
    outputs: {
      probs: str(outs, 'probs', `${w}.outputs`),
      cam: typeof outs.cam === 'string' ? outs.cam : undefined,
    },
    other_threshold: o.other_threshold === undefined ? undefined : num(o, 'other_threshold', w),
    unsure_below: optionalUnit(o, 'unsure_below', w),
  };
}

function parseGenerator(o: unknown): GeneratorEntry {
  const w = 'models.generator';
  need(isObj(o), w, 'must be an object');
  need(o.task === 'generate', w, 'task must be "generate"');
  const classes = labels(o.classes, `${w}.classes`);
  const nullClass = num(o, 'null_class', w);
  need(nullClass >= 0 && nullClass < classes.length, w, 'null_class is not a class id');
  const size = num(o, 'image_size', w);
  need(Number.isInteger(size) && size > 0 && size <= 1024, w, 'image_size must be a positive integer');
  const channels = o.channels === undefined ? 3 : num(o, 'channels', w);
  need(channels === 3, w, 'only 3-channel generators are supported');
  const pred = o.prediction;
  need(pred === 'x' || pred === 'v', w, 'prediction must be "x" or "v"');
  const s = o.sampler;
  need(isObj(s), `${w}.sampler`, 'must be an object');
  const inputs = o.inputs;
  need(isObj(inputs), `${w}.inputs`, 'must be an object');
  return {
    ...common(o, w),
    sampler: samplerSpec(s, `${w}.sampler`),
    task: 'generate',
    image_size: size,
    channels,
    value_range: [-1, 1],
    classes,
    null_class: nullClass,
    inputs: { x: str(inputs, 'x', `${w}.inputs`), t: str(inputs, 't', `${w}.inputs`), y: str(inputs, 'y', `${w}.inputs`) },
    output: str(o, 'output', w),
    prediction: pred,
    showcase: showcase(o.showcase, classes, `${w}.showcase`),
  };
}

function showcase(s: unknown, classes: Label[], w: string): { class: string; seed: number } | undefined {
  if (s === undefined) return undefined;
  need(isObj(s), w, 'must be an object');
  need(typeof s.class === 'string' && classes.some((c) => c.key === s.class), w, 'class is not a class key');
  const seed = num(s, 'seed', w);
  need(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, w, 'seed must be an integer 0..4294967295');
  return { class: s.class as string, seed };
}

/** The sampler defaults, in the ranges the sampler can use (the same limits as the Python
 * runtime's, src/tinycats/runtime/limits.py): a shift of 0 would divide by zero, a fractional
 * step count has no meaning. */
function samplerSpec(s: Obj, w: string): SamplerSpec {
  const cfg = num(s, 'default_cfg_scale', w);
  need(cfg >= 0 && cfg <= 100, w, '"default_cfg_scale" must be 0..100');
  return { ...gridSpec(s, w), default_cfg_scale: cfg };
}

/** What both stages' samplers share: the time convention, t_eps, the steps, the solver, the shift. */
function gridSpec(s: Obj, w: string): Omit<SamplerSpec, 'default_cfg_scale'> {
  need(s.time === 't0_noise_t1_data', w, `unsupported time convention "${String(s.time)}"`);
  need(s.solver === 'euler' || s.solver === 'heun', w, 'solver must be "euler" or "heun"');
  const tEps = num(s, 't_eps', w);
  need(tEps > 0 && tEps < 1, w, '"t_eps" must be between 0 and 1');
  const steps = num(s, 'default_steps', w);
  need(Number.isInteger(steps) && steps >= 1 && steps <= 1000, w, '"default_steps" must be a whole number 1..1000');
  const shift = s.shift === undefined ? 1 : num(s, 'shift', w);
  need(shift > 0 && shift <= 100, w, '"shift" must be above 0 and at most 100');
  return { time: 't0_noise_t1_data', t_eps: tEps, default_steps: steps, solver: s.solver as SamplerSpec['solver'], shift };
}

/**
 * The 64 -> 128 px stage (docs/sampler.md, "The upscaler stage"). It takes the generator's
 * images, so its cond_size must be the generator's image_size. Its graph takes the four named
 * inputs and nothing else, which engine/runner.ts checks when its session starts.
 */
function parseUpscaler(o: unknown, generator: GeneratorEntry | undefined): UpscalerEntry {
  const w = 'models.upscaler';
  need(isObj(o), w, 'must be an object');
  need(o.task === 'upscale', w, 'task must be "upscale"');
  const size = num(o, 'image_size', w);
  need(Number.isInteger(size) && size > 0 && size <= 1024, w, 'image_size must be a positive integer');
  const condSize = num(o, 'cond_size', w);
  need(Number.isInteger(condSize) && condSize > 0 && condSize < size, w, 'cond_size must be a positive integer below image_size');
  if (generator) need(condSize === generator.image_size, w, `cond_size ${condSize} is not the generator's image_size ${generator.image_size}`);
  const channels = o.channels === undefined ? 3 : num(o, 'channels', w);
  need(channels === 3, w, 'only 3-channel upscalers are supported');
  need(o.prediction === 'x', w, 'prediction must be "x"');
  const s = o.sampler;
  need(isObj(s), `${w}.sampler`, 'must be an object');
  const level = num(s, 's', `${w}.sampler`);
  need(level >= 0 && level <= 1, `${w}.sampler`, '"s" (the condition noise level) must be 0..1');
  return {
    ...common(o, w),
    task: 'upscale',
    image_size: size,
    cond_size: condSize,
    channels,
    value_range: [-1, 1],
    inputs: upscalerInputs(o.inputs, `${w}.inputs`),
    output: str(o, 'output', w),
    prediction: 'x',
    sampler: { ...gridSpec(s, `${w}.sampler`), s: level },
  };
}

function upscalerInputs(inputs: unknown, w: string): UpscalerEntry['inputs'] {
  need(isObj(inputs), w, 'must be an object');
  const input = (k: string) => str(inputs, k, w);
  return { x: input('x'), t: input('t'), cond: input('cond'), s: input('s') };
}

/** Validate parsed JSON as a tinycats manifest; throws ManifestError with the offending field. */
export function parseManifest(json: unknown): Manifest {
  need(isObj(json), 'top level', 'must be a JSON object');
  need(json.format === MANIFEST_FORMAT, 'format', `is not "${MANIFEST_FORMAT}"`);
  const version = json.version;
  need(typeof version === 'number', 'version', 'must be a number');
  need(
    version <= MANIFEST_VERSION,
    'version',
    `is ${version}; this app reads up to ${MANIFEST_VERSION}: reload to get the newer app`,
  );
  const models = json.models;
  need(isObj(models), 'models', 'must be an object');
  const generator = models.generator === undefined ? undefined : parseGenerator(models.generator);
  return {
    format: MANIFEST_FORMAT,
    version,
    models: {
      classifier: models.classifier === undefined ? undefined : parseClassifier(models.classifier),
      generator,
      upscaler: models.upscaler === undefined ? undefined : parseUpscaler(models.upscaler, generator),
    },
  };
}

export type Backend = 'wasm' | 'webgpu';

/**
 * The model variant to load on a backend. WASM: the manifest's default, except fp16 (slower than
 * fp32 on CPUs) and except an int8 classifier: onnxruntime-web has no fast int8 convolutions
 * (QLinearConv measured slower than fp32 Conv in WebAssembly, docs/web.md), so a classifier runs
 * fp32 there when it ships one. The manifest's default is the choice for native onnxruntime.
 * WebGPU: fp16 only with the `shader-f16` feature, else fp32; int8 is avoided on WebGPU (its
 * integer ops fall back to the CPU or are wrong on some builds).
 */
export function chooseVariant(entry: ModelEntry, backend: Backend, shaderF16: boolean): string {
  const has = (v: string) => v in entry.files;
  if (backend === 'wasm') {
    if (entry.task === 'classify' && entry.default_variant === 'int8' && has('fp32')) return 'fp32';
    if (entry.default_variant !== 'fp16') return entry.default_variant;
    if (has('fp32')) return 'fp32';
    if (has('int8')) return 'int8';
    return entry.default_variant;
  }
  if (shaderF16 && has('fp16')) return 'fp16';
  if (has('fp32')) return 'fp32';
  const nonF16 = Object.keys(entry.files).filter((v) => v !== 'fp16' && v !== 'int8');
  return nonF16[0] ?? entry.default_variant;
}

/**
 * The upscaler's variant: the generator's rule (chooseVariant), and fp16 only while the generator
 * itself runs fp16. A generator in fp32 (WASM, no shader-f16, or a link that pins fp32) stands for
 * exact numbers, and the 128 px cat should keep them.
 */
export function chooseUpscalerVariant(entry: UpscalerEntry, backend: Backend, shaderF16: boolean, generatorVariant: string | undefined): string {
  const v = chooseVariant(entry, backend, shaderF16);
  if (v === 'fp16' && generatorVariant !== 'fp16' && 'fp32' in entry.files) return 'fp32';
  return v;
}

/** onnxruntime's graph optimisation levels (SessionOptions.graphOptimizationLevel). */
export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';
export const OPTIMIZATION_LEVELS: readonly OptimizationLevel[] = ['disabled', 'basic', 'extended', 'all'];

/**
 * The graph optimisation level a session is created with. 'all' unless measured otherwise
 * (docs/web.md, "Measured"): creating the session is most of a cached page load, and for the
 * generator (MatMul-bound) 'basic' runs as fast as 'all' in WebAssembly but creates its session
 * faster; the classifier needs 'extended' or more for its fused convolutions (the upscaler, also
 * convolutional, keeps 'all').
 */
export function optimizationFor(entry: ModelEntry, backend: Backend): OptimizationLevel {
  return backend === 'wasm' && entry.task === 'generate' ? 'basic' : 'all';
}

/** A variant may run on a backend at all (fp16 on WebGPU needs shader-f16). */
export function variantAllowed(variant: string, backend: Backend, shaderF16: boolean): boolean {
  if (variant === 'fp16' && backend === 'webgpu') return shaderF16;
  return true;
}

export function labelByKey(labels: Label[], key: string): Label | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const k = norm(key);
  return labels.find((l) => norm(l.key) === k || norm(l.display) === k);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
