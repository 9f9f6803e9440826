import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import FormControl from '@mui/material/FormControl';
import InputLabel from '@mui/material/InputLabel';
import LinearProgress from '@mui/material/LinearProgress';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useRef, useState } from 'react';
import { FileDownloadOutlinedIcon, SpeedIcon, StopIcon } from '../components/icons';
import { backendLabel } from '../components/ModelStatus';
import { defaultThreads } from '../engine/caps';
import type { Job } from '../engine/client';
import { hub } from '../engine/hub';
import { OPTIMIZATION_LEVELS, type Backend, type ModelKey, type OptimizationLevel } from '../engine/manifest';
import { downloadBlob } from '../engine/png';
import type { BenchResult } from '../engine/protocol';
import { CancelledError } from '../engine/sampler';
import { summarize, type Summary } from '../engine/stats';
import { useRoute } from '../router';
import { useEngine } from '../useEngine';

/** The base stage alone, timed within the same runs as the whole two-stage pipeline. */
export interface BaseStageRecord {
  variant: string;
  optimization: OptimizationLevel;
  file: string;
  sha256: string;
  latencyMs: Summary;
  samplesMs: number[];
  /** median of the whole pipeline / median of the base stage alone */
  ratio: number;
}

export interface BenchRecord {
  /** `upscaler`: the two-stage pipeline, generator then upscaler (its variant and file are the upscaler's) */
  model: ModelKey;
  unit: string;
  variant: string;
  /** onnxruntime's graph optimisation level */
  optimization: OptimizationLevel;
  file: string;
  sha256: string;
  backend: Backend;
  threads: number;
  isolated: boolean;
  batch: number;
  warmup: number;
  runs: number;
  load: { ms: number; downloadMs: number; initMs: number; fromCache: boolean };
  latencyMs: Summary;
  imagesPerSecond: number;
  samplesMs: number[];
  /** `upscaler` records: the generator's stage alone, in the same runs */
  base?: BaseStageRecord;
  when: string;
}

declare global {
  interface Window {
    __tinycatsBench?: BenchRecord[];
  }
}

const DEFAULTS: Record<ModelKey, { warmup: number; runs: number }> = {
  classifier: { warmup: 30, runs: 50 },
  generator: { warmup: 2, runs: 5 },
  upscaler: { warmup: 2, runs: 5 },
};

const MODELS: ModelKey[] = ['classifier', 'generator', 'upscaler'];

const fmtRatio = (r: number) => `${r.toFixed(2)}x`;

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);

export default function BenchmarkPage() {
  const { manifest, caps } = useEngine();
  const { params } = useRoute();
  const initialModel = MODELS.find((m) => m === params.get('model')) ?? 'classifier';
  const [model, setModel] = useState<ModelKey>(initialModel);
  const [variant, setVariant] = useState<string>(params.get('variant') ?? '');
  const [backend, setBackend] = useState<Backend>(params.get('backend') === 'webgpu' ? 'webgpu' : 'wasm');
  const [threads, setThreads] = useState<number>(Number(params.get('threads')) || 0);
  const [warmup, setWarmup] = useState<number>(Number(params.get('warmup')) || DEFAULTS[initialModel].warmup);
  const [runs, setRuns] = useState<number>(Number(params.get('runs')) || DEFAULTS[initialModel].runs);
  const [batch, setBatch] = useState<number>(Number(params.get('batch')) || 1);
  // for measurements only (no control): `opt=basic` etc. overrides the session's optimisation level
  const optParam = params.get('opt');
  const optimization = OPTIMIZATION_LEVELS.find((o) => o === optParam);
  const [records, setRecords] = useState<BenchRecord[]>([]);
  const [progress, setProgress] = useState<{ done: number; total: number; warmup: boolean } | null>(null);
  const [phase, setPhase] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useRef<Job<BenchResult> | null>(null);
  const auto = useRef(params.get('auto') === '1');

  const entry = manifest?.models[model];
  const variants = entry ? Object.keys(entry.files) : [];
  const effVariant = variant && variants.includes(variant) ? variant : '';
  const maxThreads = caps?.isolated ? caps.cores : 1;
  const effThreads = caps?.isolated ? (threads > 0 ? threads : defaultThreads(caps)) : 1;

  useEffect(() => {
    void hub.caps();
  }, []);

  const run = useCallback(async () => {
    setError(null);
    try {
      setPhase('Loading the model');
      const rt = { backend, threads: effThreads, ...(optimization ? { optimization } : {}) };
      const mine = { ...rt, ...(effVariant ? { variant: effVariant } : {}) };
      // the pipeline: the generator at its automatic variant, then the upscaler in the same worker
      const pipeline = model === 'upscaler';
      if (pipeline) await hub.ensure('generator', rt);
      const client = await hub.ensure(model, mine);
      const snap = hub.getSnapshot().models;
      const info = snap[model].info!;
      setPhase(`Measuring on ${backendLabel(info)}`);
      const b = model === 'classifier' ? batch : 1;
      const j = client.bench({ model: model === 'classifier' ? 'classifier' : 'generator', upscale: pipeline, warmup, runs, batch: b }, (p) => setProgress(p));
      job.current = j;
      const r = await j.promise;
      const sum = summarize(r.runMs);
      const m = await hub.manifest();
      const sha = (k: ModelKey, variant: string) => m.models[k]!.files[variant]!.sha256;
      let base: BaseStageRecord | undefined;
      if (pipeline && r.baseMs) {
        const g = snap.generator.info!;
        const baseSum = summarize(r.baseMs);
        base = { variant: g.variant, optimization: g.optimization, file: g.file, sha256: sha('generator', g.variant), latencyMs: baseSum, samplesMs: r.baseMs, ratio: sum.median / baseSum.median };
      }
      const rec: BenchRecord = {
        model,
        unit: r.unit,
        variant: info.variant,
        optimization: info.optimization,
        file: info.file,
        sha256: sha(model, info.variant),
        backend: info.backend,
        threads: info.threads,
        isolated: info.isolated,
        batch: b,
        warmup,
        runs,
        load: { ms: info.downloadMs + info.initMs, downloadMs: info.downloadMs, initMs: info.initMs, fromCache: info.fromCache },
        latencyMs: sum,
        imagesPerSecond: (1000 * b) / sum.median,
        samplesMs: r.runMs,
        ...(base ? { base } : {}),
        when: new Date().toISOString(),
      };
      setRecords((cur) => {
        const next = [...cur, rec];
        window.__tinycatsBench = next;
        return next;
      });
    } catch (e) {
      if (!(e instanceof CancelledError)) setError((e as Error).message);
    } finally {
      job.current = null;
      setProgress(null);
      setPhase(null);
    }
  }, [model, backend, effThreads, effVariant, optimization, warmup, runs, batch]);

  useEffect(() => {
    if (auto.current && manifest && caps) {
      auto.current = false;
      void run();
    }
  }, [manifest, caps, run]);

  const exportJson = () => {
    const env = { userAgent: navigator.userAgent, cores: caps?.cores, crossOriginIsolated: caps?.isolated, webgpu: caps?.webgpu ? caps.adapter : null };
    downloadBlob(new Blob([JSON.stringify({ tool: 'tinycats web benchmark', environment: env, results: records }, null, 2)], { type: 'application/json' }), `tinycats-bench-${Date.now()}.json`);
  };

  const busy = phase !== null;
  return (
    <Stack spacing={3}>
      <Box>
        <Typography variant="h3" component="h1" gutterBottom>
          Benchmark
        </Typography>
        <Typography color="text.secondary" sx={{ maxWidth: 760 }}>
          Real measurements on this device: each model runs a warm-up first (the first runs are several times slower), then N timed runs. Latency is one
          classification, or one whole generated image at the default settings; with the upscaler, the small cat's stage is also timed on its own in the
          same runs.
        </Typography>
      </Box>
      <Card>
        <CardContent>
          <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'center' }}>
            <FormControl size="small" sx={{ minWidth: 150 }}>
              <InputLabel id="bench-model-label">Model</InputLabel>
              <Select
                labelId="bench-model-label"
                label="Model"
                value={model}
                data-testid="bench-model"
                onChange={(e) => {
                  const m = e.target.value as ModelKey;
                  setModel(m);
                  setVariant('');
                  setWarmup(DEFAULTS[m].warmup);
                  setRuns(DEFAULTS[m].runs);
                }}
              >
                <MenuItem value="classifier" disabled={!manifest?.models.classifier}>
                  Classifier
                </MenuItem>
                <MenuItem value="generator" disabled={!manifest?.models.generator}>
                  Generator
                </MenuItem>
                <MenuItem value="upscaler" disabled={!manifest?.models.generator || !manifest.models.upscaler}>
                  Generator + upscaler
                </MenuItem>
              </Select>
            </FormControl>
            <FormControl size="small" sx={{ minWidth: 130 }}>
              <InputLabel shrink id="bench-variant-label">Variant</InputLabel>
              <Select labelId="bench-variant-label" label="Variant" notched value={effVariant} displayEmpty onChange={(e) => setVariant(e.target.value)} renderValue={(v) => v || 'automatic'}>
                <MenuItem value="">automatic</MenuItem>
                {variants.map((v) => (
                  <MenuItem key={v} value={v}>
                    {v}
                  </MenuItem>
                ))}
              </Select>
            </FormControl>
            <FormControl size="small" sx={{ minWidth: 130 }}>
              <InputLabel id="bench-backend-label">Backend</InputLabel>
              <Select labelId="bench-backend-label" label="Backend" value={backend} onChange={(e) => setBackend(e.target.value as Backend)}>
                <MenuItem value="wasm">WASM</MenuItem>
                <MenuItem value="webgpu" disabled={!caps?.webgpu}>
                  WebGPU
                </MenuItem>
              </Select>
            </FormControl>
            <FormControl size="small" sx={{ minWidth: 110 }}>
              <InputLabel id="bench-threads-label">Threads</InputLabel>
              <Select labelId="bench-threads-label" label="Threads" value={effThreads} onChange={(e) => setThreads(Number(e.target.value))} disabled={!caps?.isolated}>
                {Array.from({ length: Math.max(1, maxThreads) }, (_, i) => i + 1).map((t) => (
                  <MenuItem key={t} value={t}>
                    {t}
                  </MenuItem>
                ))}
              </Select>
            </FormControl>
            <TextField size="small" type="number" label="Warm-up" value={warmup} onChange={(e) => setWarmup(Math.max(0, Number(e.target.value)))} sx={{ width: 100 }} />
            <TextField size="small" type="number" label="Runs (N)" value={runs} onChange={(e) => setRuns(Math.max(1, Number(e.target.value)))} sx={{ width: 100 }} />
            {model === 'classifier' && (
              <FormControl size="small" sx={{ minWidth: 90 }}>
                <InputLabel id="bench-batch-label">Batch</InputLabel>
                <Select labelId="bench-batch-label" label="Batch" value={batch} onChange={(e) => setBatch(Number(e.target.value))}>
                  {[1, 2, 4, 8].map((b) => (
                    <MenuItem key={b} value={b}>
                      {b}
                    </MenuItem>
                  ))}
                </Select>
              </FormControl>
            )}
            <Box sx={{ flex: 1 }} />
            {busy ? (
              <Button variant="outlined" startIcon={<StopIcon />} onClick={() => job.current?.cancel()}>
                Stop
              </Button>
            ) : (
              <Button variant="contained" startIcon={<SpeedIcon />} onClick={() => void run()} disabled={!entry} data-testid="bench-run">
                Run benchmark
              </Button>
            )}
          </Stack>
          {!caps?.isolated && caps && (
            <Alert severity="info" sx={{ mt: 2 }}>
              This page is not cross-origin isolated, so WebAssembly runs on one thread.
            </Alert>
          )}
          {busy && (
            <Box sx={{ mt: 2 }}>
              <Typography variant="body2" color="text.secondary">
                {phase}
                {progress ? ` · ${progress.warmup ? 'warm-up' : 'timed'} run ${progress.done} / ${progress.total}` : ''}
              </Typography>
              <LinearProgress variant={progress ? 'determinate' : 'indeterminate'} value={progress ? (100 * progress.done) / progress.total : 0} sx={{ mt: 0.5 }} aria-label="benchmark progress" />
            </Box>
          )}
          {error && (
            <Alert severity="error" sx={{ mt: 2 }}>
              {error}
            </Alert>
          )}
        </CardContent>
      </Card>
      {records.length > 0 && (
        <Card>
          <CardContent>
            <Stack direction="row" sx={{ justifyContent: 'space-between', alignItems: 'center', mb: 1 }}>
              <Typography variant="h6" component="h2">Results</Typography>
              <Button startIcon={<FileDownloadOutlinedIcon />} onClick={exportJson} data-testid="bench-export">
                Export JSON
              </Button>
            </Stack>
            <TableContainer>
              <Table size="small">
                <TableHead>
                  <TableRow>
                    <TableCell>Model</TableCell>
                    <TableCell>Backend</TableCell>
                    <TableCell align="right">Load</TableCell>
                    <TableCell align="right">Median</TableCell>
                    <TableCell align="right">p90</TableCell>
                    <TableCell align="right">Images/s</TableCell>
                    <TableCell align="right">Runs</TableCell>
                  </TableRow>
                </TableHead>
                <TableBody>
                  {records.map((r, i) => (
                    <TableRow key={i} data-testid="bench-row">
                      <TableCell>
                        <Typography variant="body2" sx={{ fontWeight: 600 }}>
                          {r.base ? `generator ${r.base.variant} + upscaler ${r.variant}` : `${r.model} ${r.variant}`}
                        </Typography>
                        <Typography variant="caption" color="text.secondary">
                          {r.unit}
                        </Typography>
                      </TableCell>
                      <TableCell data-testid="bench-backend">{backendLabel(r)}</TableCell>
                      <TableCell align="right">
                        {fmt(r.load.ms)}
                        <Typography variant="caption" color="text.secondary" component="div">
                          {r.load.fromCache ? 'from cache' : 'downloaded'}
                        </Typography>
                      </TableCell>
                      <TableCell align="right" data-testid="bench-median" sx={{ fontWeight: 700 }}>
                        {fmt(r.latencyMs.median)}
                        {r.base && (
                          <Typography variant="caption" color="text.secondary" component="div" sx={{ fontWeight: 400, whiteSpace: 'nowrap' }} data-testid="bench-base">
                            {manifest?.models.generator?.image_size} px stage alone {fmt(r.base.latencyMs.median)}
                            <br />
                            ratio {fmtRatio(r.base.ratio)}
                          </Typography>
                        )}
                      </TableCell>
                      <TableCell align="right">{fmt(r.latencyMs.p90)}</TableCell>
                      <TableCell align="right">{r.imagesPerSecond.toFixed(r.imagesPerSecond < 10 ? 2 : 1)}</TableCell>
                      <TableCell align="right">
                        {r.runs} <Typography variant="caption" color="text.secondary">(+{r.warmup} warm-up)</Typography>
                      </TableCell>
                    </TableRow>
                  ))}
                </TableBody>
              </Table>
            </TableContainer>
            <Box component="pre" data-testid="bench-json" sx={{ display: 'none' }}>
              {JSON.stringify(records)}
            </Box>
          </CardContent>
        </Card>
      )}
    </Stack>
  );
}
