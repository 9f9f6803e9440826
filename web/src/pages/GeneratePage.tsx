import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import Chip from '@mui/material/Chip';
import Collapse from '@mui/material/Collapse';
import FormControlLabel from '@mui/material/FormControlLabel';
import Grid from '@mui/material/Grid';
import IconButton from '@mui/material/IconButton';
import InputAdornment from '@mui/material/InputAdornment';
import LinearProgress from '@mui/material/LinearProgress';
import MenuItem from '@mui/material/MenuItem';
import Select from '@mui/material/Select';
import Skeleton from '@mui/material/Skeleton';
import Slider from '@mui/material/Slider';
import Stack from '@mui/material/Stack';
import { alpha } from '@mui/material/styles';
import Switch from '@mui/material/Switch';
import TextField from '@mui/material/TextField';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import useMediaQuery from '@mui/material/useMediaQuery';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { BreedPicker, BreedThumb } from '../components/BreedPicker';
import { AutoAwesomeIcon, CasinoIcon, FileDownloadOutlinedIcon, LinkIcon, StopIcon } from '../components/icons';
import { ModelStatus } from '../components/ModelStatus';
import { pct } from '../components/ProbBars';
import { RgbaCanvas } from '../components/RgbCanvas';
import type { Job } from '../engine/client';
import { decide } from '../engine/decide';
import { hub } from '../engine/hub';
import { BATCHES, generateLink, LIMITS, parseGenerateLink, type Settings } from '../engine/generateLink';
import type { GeneratorEntry, UpscalerEntry } from '../engine/manifest';
import { downloadBlob, rgbaToPngBlob } from '../engine/png';
import { rgbaToRgbOpaque, squareResize, tensorToRgba, toTensor } from '../engine/preprocess';
import type { GenerateResult, StageTiming, StepEvent } from '../engine/protocol';
import { randomSeed, streamLength } from '../engine/rng';
import { CancelledError, classWeights, networkCalls, oneHot, tile, type Solver } from '../engine/sampler';
import { useReplaceParams, useRoute } from '../router';
import { useEngine } from '../useEngine';

declare global {
  interface Window {
    /** Test hook: when set, the next generation uses this noise stream instead of the seeded one: the
     * (B, 3, S, S) initial noise, then, at the upscaled size, eps_c and the upscaler's initial noise
     * (engine/rng.ts, splitStream). A stream of another length is ignored. */
    __tinycatsNoise?: Float32Array;
  }
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

interface Tile {
  rgba: Uint8ClampedArray<ArrayBuffer> | null;
  /** the pixels' width and height */
  size: number;
  /** what the classifier says of the tile; `unsure`: under the manifest's unsure_below (engine/decide.ts) */
  badge?: { label: string; prob: number; match: boolean | null; other: boolean; unsure: boolean };
}

function Labeled({ label, value, children }: { label: string; value?: string; children: React.ReactNode }) {
  return (
    <Box>
      <Stack direction="row" sx={{ justifyContent: 'space-between' }}>
        <Typography variant="body2" sx={{ fontWeight: 600 }}>
          {label}
        </Typography>
        {value && (
          <Typography variant="body2" color="text.secondary" sx={{ fontVariantNumeric: 'tabular-nums' }}>
            {value}
          </Typography>
        )}
      </Stack>
      {children}
    </Box>
  );
}

/** The 128 px switch: the upscaler's own steps run after the 64 px cat. */
function SizeSwitch({ entry, up, s, set }: { entry: GeneratorEntry; up: UpscalerEntry; s: Settings; set: (p: Partial<Settings>) => void }) {
  const on = s.size === up.image_size;
  const sp = up.sampler;
  const calls = networkCalls(sp.default_steps, sp.solver);
  return (
    <Box>
      <FormControlLabel
        control={<Switch checked={on} data-testid="size-toggle" onChange={(e) => set({ size: e.target.checked ? up.image_size : entry.image_size })} />}
        label={`${up.image_size} px`}
      />
      <Typography variant="body2" color="text.secondary" sx={{ pl: 1 }}>
        {on
          ? `The ${entry.image_size} px cat is upscaled by a second network: ${sp.default_steps} more ${sp.solver === 'heun' ? 'Heun' : 'Euler'} steps, ${calls} network calls.`
          : `Off: ${entry.image_size} px cats, without the upscaler's ${calls} network calls.`}
      </Typography>
    </Box>
  );
}

function Controls({ entry, up, s, set, running }: { entry: GeneratorEntry; up?: UpscalerEntry; s: Settings; set: (p: Partial<Settings>) => void; running: boolean }) {
  const choices = entry.classes.filter((c) => c.id !== entry.null_class);
  const a = s.mix === null ? 0 : s.a;
  return (
    <Stack spacing={2.5}>
      <Labeled label="Breed">
        <Box sx={{ mt: 1 }}>
          <BreedPicker classes={choices} value={s.breed} onChange={(id) => set({ breed: id, mix: s.mix === id ? null : s.mix })} />
        </Box>
      </Labeled>
      <Box>
        <FormControlLabel
          control={
            <Switch
              checked={s.mix !== null}
              data-testid="mix-toggle"
              onChange={(e) => set({ mix: e.target.checked ? (choices.find((c) => c.id !== s.breed)?.id ?? null) : null })}
            />
          }
          label="Mix with a second breed"
        />
        <Collapse in={s.mix !== null}>
          <Stack spacing={1} sx={{ pl: 1, pt: 1 }}>
            <Select
              size="small"
              value={s.mix ?? ''}
              onChange={(e) => set({ mix: Number(e.target.value) })}
              data-testid="mix-breed"
              SelectDisplayProps={{ 'aria-label': 'second breed' }}
              renderValue={(v) => choices.find((c) => c.id === v)?.display ?? ''}
            >
              {choices
                .filter((c) => c.id !== s.breed)
                .map((c) => (
                  <MenuItem key={c.id} value={c.id}>
                    <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
                      <BreedThumb k={c.key} size={28} />
                      <span>{c.display}</span>
                    </Stack>
                  </MenuItem>
                ))}
            </Select>
            <Labeled
              label="Mix"
              value={s.mix !== null ? `${Math.round(100 * (1 - a))}% ${entry.classes[s.breed]?.display} · ${Math.round(100 * a)}% ${entry.classes[s.mix]?.display}` : ''}
            >
              <Slider value={a} min={LIMITS.a.min} max={LIMITS.a.max} step={0.05} onChange={(_, v) => set({ a: v as number })} aria-label="mix" data-testid="mix-slider" />
            </Labeled>
          </Stack>
        </Collapse>
      </Box>
      {up && <SizeSwitch entry={entry} up={up} s={s} set={set} />}
      <Labeled label="Steps" value={`${s.steps} · ${networkCalls(s.steps, s.solver)} network calls`}>
        <Slider value={s.steps} min={LIMITS.steps.min} max={LIMITS.steps.max} onChange={(_, v) => set({ steps: v as number })} aria-label="steps" data-testid="steps" />
      </Labeled>
      <Labeled label="Guidance" value={s.cfg === 1 ? '1 (off)' : s.cfg.toFixed(1)}>
        <Slider value={s.cfg} min={LIMITS.cfg.min} max={LIMITS.cfg.max} step={0.5} onChange={(_, v) => set({ cfg: v as number })} aria-label="guidance" data-testid="cfg" />
      </Labeled>
      <Stack direction="row" spacing={2} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'flex-end' }}>
        <Labeled label="Solver">
          <ToggleButtonGroup size="small" exclusive value={s.solver} onChange={(_, v) => v && set({ solver: v as Solver })} sx={{ mt: 0.5, display: 'flex' }}>
            <ToggleButton value="euler">Euler</ToggleButton>
            <ToggleButton value="heun">Heun</ToggleButton>
          </ToggleButtonGroup>
        </Labeled>
        <Labeled label="Images">
          <ToggleButtonGroup size="small" exclusive value={s.n} onChange={(_, v) => v && set({ n: v as number })} sx={{ mt: 0.5, display: 'flex' }} data-testid="batch">
            {BATCHES.map((b) => (
              <ToggleButton key={b} value={b}>
                {b}
              </ToggleButton>
            ))}
          </ToggleButtonGroup>
        </Labeled>
        <TextField
          label="Seed"
          size="small"
          value={s.seed}
          sx={{ width: 150 }}
          slotProps={{
            htmlInput: { inputMode: 'numeric', 'data-testid': 'seed' },
            input: {
              endAdornment: (
                <InputAdornment position="end">
                  <Tooltip title="Random seed">
                    <IconButton edge="end" onClick={() => set({ seed: randomSeed() })} aria-label="random seed" data-testid="dice" disabled={running}>
                      <CasinoIcon />
                    </IconButton>
                  </Tooltip>
                </InputAdornment>
              ),
            },
          }}
          onChange={(e) => {
            const v = Number(e.target.value.replace(/\D/g, ''));
            if (Number.isFinite(v)) set({ seed: clamp(v, LIMITS.seed.min, LIMITS.seed.max) });
          }}
        />
      </Stack>
    </Stack>
  );
}

export default function GeneratePage() {
  const { manifest, models } = useEngine();
  const entry = manifest?.models.generator;
  // the second stage, when the manifest has one and its input is this generator's output
  const up = manifest?.models.upscaler;
  const { params } = useRoute();
  const replaceParams = useReplaceParams();
  const choices = useMemo(() => entry?.classes.filter((c) => c.id !== entry.null_class) ?? [], [entry]);
  const [s, setS] = useState<Settings | null>(null);
  const [tiles, setTiles] = useState<Tile[]>([]);
  const [running, setRunning] = useState(false);
  const [progress, setProgress] = useState<StepEvent | null>(null);
  const [last, setLast] = useState<{ ms: number; calls: number; stages: StageTiming[]; settings: Settings } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  // smooth scaling by default; "show pixels" draws each pixel as a sharp square
  const [pixelated, setPixelated] = useState(false);
  // people who ask for less motion see the finished cat, not every step (the step count still shows)
  const reduceMotion = useMediaQuery('(prefers-reduced-motion: reduce)', { noSsr: true });
  const job = useRef<Job<GenerateResult> | null>(null);
  const generating = useRef(false);
  const autoRan = useRef(false);
  const baseSize = entry?.image_size ?? 64;
  const upscaled = !!up && s?.size === up.image_size;
  const genReady = models.generator.status === 'ready';
  const ready = genReady && (!upscaled || models.upscaler.status === 'ready');

  const pinned = s?.variant;
  useEffect(() => {
    void hub.ensure('generator', pinned ? { variant: pinned } : {}).catch(() => {});
  }, [pinned]);
  // the upscaler loads once the generator is ready (the page's first cat needs the generator
  // first, and the two sessions would compete for the same cores); its variant follows the
  // generator's (manifest.ts, chooseUpscalerVariant)
  const genVariant = models.generator.info?.variant;
  useEffect(() => {
    if (genReady && upscaled) void hub.ensure('upscaler').catch(() => {});
  }, [genReady, upscaled, genVariant]);
  useEffect(() => () => job.current?.cancel(), []);

  // settings come from the address; an edited address (or back/forward) updates them, and what
  // it held that could not be used is said, not silently dropped
  const query = params.toString();
  const current = useRef(s);
  useEffect(() => {
    current.current = s;
  }, [s]);
  const [linkNotes, setLinkNotes] = useState<string[]>([]);
  useEffect(() => {
    if (!entry) return;
    const cur = current.current;
    if (cur && new URLSearchParams(generateLink(cur, entry.classes)).toString() === query) return;
    const parsed = parseGenerateLink(new URLSearchParams(query), entry, choices, up);
    setS(parsed.settings);
    setLinkNotes(parsed.notes);
  }, [entry, up, query, choices]);

  const set = useCallback(
    (p: Partial<Settings>) =>
      setS((cur) => {
        if (!cur || !entry) return cur;
        const next = { ...cur, ...p };
        replaceParams(generateLink(next, entry.classes));
        return next;
      }),
    [entry, replaceParams],
  );

  useEffect(() => {
    if (s && entry) replaceParams(generateLink(s, entry.classes));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [entry, s === null]);

  const badges = useCallback(
    async (images: Float32Array, size: number, settings: Settings, n: number) => {
      try {
        const m = await hub.manifest();
        const ce = m.models.classifier;
        if (!ce || !entry) return;
        const client = await hub.ensure('classifier');
        const cs = ce.input.size;
        const batch = new Float32Array(n * 3 * cs * cs);
        for (let b = 0; b < n; b++) {
          const rgb = rgbaToRgbOpaque(tensorToRgba(images, size, b), size * size);
          toTensor(squareResize(rgb, size, size, cs), cs, ce.input, batch, b * 3 * cs * cs);
        }
        const r = await client.classify(batch, n);
        const L = ce.labels.length;
        const want = entry.classes[settings.breed]?.key;
        const wantMix = settings.mix !== null ? entry.classes[settings.mix]?.key : undefined;
        setTiles((cur) =>
          cur.map((t, b) => {
            const p = r.probs.subarray(b * L, (b + 1) * L);
            const { top, isOther, unsure } = decide(p, ce);
            const key = ce.labels[top]!.key;
            const known = ce.labels.some((l) => l.key === want);
            return {
              ...t,
              badge: { label: ce.labels[top]!.display, prob: p[top]!, match: known ? key === want || key === wantMix : null, other: isOther, unsure },
            };
          }),
        );
      } catch {
        /* the badge is a bonus: no classifier, no badge */
      }
    },
    [entry],
  );

  const generate = useCallback(async () => {
    if (!s || !entry) return;
    const settings = s;
    const upscale = !!up && settings.size === up.image_size;
    generating.current = true;
    setError(null);
    setRunning(true);
    setProgress({ stage: 'base', step: 0, total: settings.steps, done: 0, of: settings.steps + (upscale ? up.sampler.default_steps : 0), size: baseSize });
    setTiles(Array.from({ length: settings.n }, (_, i) => ({ rgba: tiles[i]?.rgba ?? null, size: tiles[i]?.size ?? settings.size })));
    try {
      const client = await hub.ensure('generator', settings.variant ? { variant: settings.variant } : {});
      if (upscale) await hub.ensure('upscaler');
      const k = entry.classes.length;
      const row = settings.mix !== null ? classWeights(k, [[settings.breed, 1 - settings.a], [settings.mix, settings.a]]) : oneHot(k, settings.breed);
      const noise = window.__tinycatsNoise;
      const want = streamLength(settings.n, baseSize, upscale ? settings.size : null);
      const j = client.generate(
        {
          y: tile(row, settings.n),
          batch: settings.n,
          seed: settings.seed,
          noise: noise && noise.length === want ? noise : undefined,
          steps: settings.steps,
          cfgScale: settings.cfg,
          solver: settings.solver,
          upscale,
          preview: !reduceMotion,
        },
        (ev) => {
          setProgress(ev);
          const x = ev.x;
          if (x) setTiles(Array.from({ length: settings.n }, (_, b) => ({ rgba: tensorToRgba(x, ev.size, b), size: ev.size })));
        },
      );
      job.current = j;
      const res = await j.promise;
      setTiles(Array.from({ length: settings.n }, (_, b) => ({ rgba: tensorToRgba(res.images, res.size, b), size: res.size })));
      setLast({ ms: res.ms, calls: res.calls, stages: res.stages, settings });
      setRunning(false);
      void badges(res.images, res.size, settings, settings.n);
    } catch (e) {
      if (!(e instanceof CancelledError)) setError((e as Error).message);
      setRunning(false);
    } finally {
      job.current = null;
      generating.current = false;
      setProgress(null);
    }
  }, [s, entry, up, baseSize, tiles, badges, reduceMotion]);

  // a shared link (with a seed) shows its image as soon as the models are ready
  useEffect(() => {
    if (ready && s && !autoRan.current && params.has('seed')) {
      autoRan.current = true;
      void generate();
    }
  }, [ready, s, params, generate]);

  // the classifier (the badges) starts once the cat's models are ready and idle: loading both at
  // once would slow both on a 2-core machine; a generation started first loads it for its badges
  useEffect(() => {
    if (ready && !running && !generating.current) void hub.ensure('classifier').catch(() => {});
  }, [ready, running]);

  const name = (b: number) => {
    const st = last?.settings ?? s!;
    const breed = entry!.classes[st.breed]!.key;
    const mix = st.mix !== null ? `-${entry!.classes[st.mix]!.key}${Math.round(st.a * 100)}` : '';
    // the size only when upscaled: names of 64 px cats stay what they were
    const px = st.size !== baseSize ? `-${st.size}px` : '';
    return `tinycats-${breed}${mix}-seed${st.seed}-${st.steps}${st.solver}-cfg${st.cfg}${px}${st.n > 1 ? `-${b + 1}` : ''}`;
  };

  const stageLabel = (p: StepEvent) => (p.stage === 'base' ? `${baseSize} px cat` : `Upscaling to ${p.size} px`);
  const timing = (st: StageTiming) => `${st.stage === 'base' ? `${baseSize} px cat` : 'upscaler'} ${(st.ms / 1000).toFixed(2)} s (${st.calls} calls)`;

  if (!entry || !s) {
    return (
      <Stack spacing={3}>
        <Typography variant="h3" component="h1">
          Make a cat
        </Typography>
        <ModelStatus model="generator" />
        <Skeleton variant="rounded" height={360} />
      </Stack>
    );
  }

  const cols = s.n === 1 ? 1 : s.n === 4 ? 2 : 3;
  const shown = tiles.length ? tiles : Array.from({ length: s.n }, (): Tile => ({ rgba: null, size: s.size }));

  return (
    <Stack spacing={3}>
      <Box>
        <Typography variant="h3" component="h1" gutterBottom>
          Make a cat
        </Typography>
        <Typography color="text.secondary" sx={{ maxWidth: 760 }}>
          A tiny diffusion transformer turns random noise into a {baseSize}x{baseSize} cat of the breed you pick, step by step, with classifier-free guidance
          {up ? `; a second network then upscales it to ${up.image_size}x${up.image_size}` : ''}. Mix two breeds to get something in between.
        </Typography>
      </Box>
      <ModelStatus model="generator" />
      {upscaled && genReady && <ModelStatus model="upscaler" testId="upscaler-backend" />}
      {linkNotes.length > 0 && (
        <Alert severity="warning" onClose={() => setLinkNotes([])} data-testid="link-notes">
          Some settings in this link were not used: {linkNotes.join('. ')}.
        </Alert>
      )}
      <Grid container spacing={3}>
        <Grid size={{ xs: 12, md: 6 }}>
          <Card>
            <CardContent>
              <Controls entry={entry} up={up} s={s} set={set} running={running} />
              <Stack direction="row" spacing={1} sx={{ mt: 3 }}>
                <Button
                  size="large"
                  variant="contained"
                  startIcon={<AutoAwesomeIcon />}
                  onClick={() => void generate()}
                  disabled={!ready || running}
                  data-testid="generate"
                  // the gradient's light end stays dark enough for its text (4.5:1) in both colour schemes
                  sx={{ flex: 1, py: 1.25, background: (t) => `linear-gradient(90deg, ${t.palette.primary.main}, ${t.palette.mode === 'dark' ? t.palette.secondary.main : t.palette.secondary.dark})` }}
                >
                  {running ? 'Generating…' : 'Generate'}
                </Button>
                {running && (
                  <Button size="large" variant="outlined" startIcon={<StopIcon />} onClick={() => job.current?.cancel()} data-testid="stop">
                    Stop
                  </Button>
                )}
              </Stack>
            </CardContent>
          </Card>
        </Grid>
        <Grid size={{ xs: 12, md: 6 }} sx={{ order: { xs: -1, md: 0 } }}>
          <Card sx={{ height: '100%' }}>
            <CardContent>
              {error && (
                <Alert severity="error" sx={{ mb: 2 }}>
                  {error}
                </Alert>
              )}
              <Box sx={{ display: 'grid', gridTemplateColumns: `repeat(${cols}, 1fr)`, gap: 1.5 }}>
                {shown.map((t, b) => (
                  <Box key={b}>
                    <Box
                      sx={(th) => ({
                        borderRadius: 3,
                        overflow: 'hidden',
                        aspectRatio: '1',
                        background: `linear-gradient(135deg, ${alpha(th.palette.primary.main, 0.12)}, ${alpha(th.palette.secondary.main, 0.12)})`,
                      })}
                    >
                      <RgbaCanvas
                        rgba={t.rgba}
                        width={t.size}
                        height={t.size}
                        display="100%"
                        pixelated={pixelated}
                        testId={b === 0 ? 'generated' : `generated-${b}`}
                        label={`generated cat ${b + 1}${t.badge ? `: the classifier ${t.badge.unsure ? 'is unsure, perhaps' : 'says'} ${t.badge.other ? 'not a cat' : t.badge.label}` : ''}`}
                      />
                    </Box>
                    <Stack direction="row" spacing={0.5} sx={{ mt: 0.75, alignItems: 'center', minHeight: 32 }}>
                      {t.badge ? (
                        <Tooltip title="What the classifier thinks of this generated image">
                          <Chip
                            size="small"
                            data-testid={`badge-${b}`}
                            data-unsure={t.badge.unsure}
                            // an unsure answer is a hint, not a verdict: plain and marked, never a green match
                            color={t.badge.unsure ? 'default' : t.badge.other ? 'warning' : t.badge.match ? 'success' : 'default'}
                            variant={t.badge.match && !t.badge.unsure ? 'filled' : 'outlined'}
                            label={`${t.badge.unsure ? 'unsure: ' : ''}${t.badge.other ? 'not a cat?' : t.badge.label} ${pct(t.badge.prob)}`}
                            sx={{ maxWidth: '100%' }}
                          />
                        </Tooltip>
                      ) : (
                        <Box sx={{ flex: 1 }} />
                      )}
                      <Box sx={{ flex: 1 }} />
                      {t.rgba && !running &&
                        [1, 4].map((k) => (
                          <Tooltip key={k} title={`Download PNG, ${t.size * k} x ${t.size * k}${k > 1 ? ' (enlarged 4x with smoothing)' : ''}`}>
                            <Button
                              size="small"
                              sx={{ minWidth: 0, px: 1 }}
                              startIcon={<FileDownloadOutlinedIcon fontSize="small" />}
                              data-testid={k === 1 ? `download-${b}` : `download-x4-${b}`}
                              onClick={async () => downloadBlob(await rgbaToPngBlob(t.rgba!, t.size, t.size, k), `${name(b)}${k > 1 ? '-x4' : ''}.png`)}
                            >
                              {t.size * k}
                            </Button>
                          </Tooltip>
                        ))}
                    </Stack>
                  </Box>
                ))}
              </Box>
              <Box sx={{ mt: 2, minHeight: 40 }}>
                {progress ? (
                  <Box>
                    <Typography variant="body2" color="text.secondary" data-testid="gen-progress">
                      {stageLabel(progress)}: step {progress.step} / {progress.total}
                    </Typography>
                    <LinearProgress variant="determinate" value={(100 * progress.done) / progress.of} sx={{ mt: 0.5 }} aria-label="generation progress" />
                  </Box>
                ) : last ? (
                  <Stack direction="row" spacing={1} useFlexGap sx={{ alignItems: 'center', flexWrap: 'wrap' }}>
                    <Tooltip title={last.stages.map(timing).join(' · ')}>
                      <Chip size="small" label={`${(last.ms / 1000).toFixed(2)} s · ${last.calls} network calls`} data-testid="gen-ms" />
                    </Tooltip>
                    <Button
                      size="small"
                      startIcon={<LinkIcon />}
                      onClick={() => {
                        void navigator.clipboard?.writeText(location.href).then(() => setCopied(true));
                        setTimeout(() => setCopied(false), 1500);
                      }}
                    >
                      {copied ? 'Link copied' : 'Copy link to this image'}
                    </Button>
                  </Stack>
                ) : (
                  <Typography variant="body2" color="text.secondary">
                    Same seed and settings, same cat: the settings live in the page's address.
                  </Typography>
                )}
              </Box>
              <FormControlLabel
                sx={{ mt: 1 }}
                control={<Switch size="small" checked={pixelated} onChange={(e) => setPixelated(e.target.checked)} data-testid="pixelated-toggle" />}
                label={
                  <Typography variant="body2" color="text.secondary">
                    Show the pixels (no smoothing)
                  </Typography>
                }
              />
            </CardContent>
          </Card>
        </Grid>
      </Grid>
    </Stack>
  );
}
