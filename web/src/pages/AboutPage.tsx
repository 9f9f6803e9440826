import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import Collapse from '@mui/material/Collapse';
import Grid from '@mui/material/Grid';
import Link from '@mui/material/Link';
import LinearProgress from '@mui/material/LinearProgress';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { BreedBars, ConfusionMatrix } from '../components/Charts';
import { modelFigures, type SmallTable } from '../engine/figures';
import { chooseVariant, formatBytes, type ClassifierEntry, type ModelEntry } from '../engine/manifest';
import { CACHE_NAME } from '../engine/modelStore';
import { href } from '../router';
import { useEngine } from '../useEngine';

function short(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (Array.isArray(v)) return v.map(short).join(', ');
  if (typeof v === 'object') return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k} ${short(x)}`).join(', ');
  return String(v);
}

/** Rows "a.b: value"; objects deeper than `depth` are summarised on one line. */
function flatten(o: unknown, prefix = '', depth = 2): [string, string][] {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || depth === 0) return [[prefix, short(o)]];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k, depth - 1));
}

function KV({ rows, testId }: { rows: [string, string][]; testId?: string }) {
  return (
    <Table size="small" data-testid={testId}>
      <TableBody>
        {rows.map(([k, v]) => (
          <TableRow key={k}>
            <TableCell sx={{ color: 'text.secondary', width: '45%', pl: 0 }}>{k}</TableCell>
            <TableCell sx={{ fontVariantNumeric: 'tabular-nums', overflowWrap: 'anywhere' }}>{v}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

const TITLES: Record<ModelEntry['task'], string> = { classify: 'Breed classifier', generate: 'Cat generator', upscale: 'Upscaler' };

function FiguresTable({ table, testId, label }: { table: SmallTable; testId: string; label: string }) {
  return (
    // focusable: on a narrow screen the table scrolls sideways, and keyboard users can scroll it too
    <TableContainer sx={{ my: 2, maxWidth: table.head.length > 2 ? 900 : 560 }} tabIndex={0} role="region" aria-label={label}>
      <Table size="small" data-testid={testId}>
        <TableHead>
          <TableRow>
            {table.head.map((h, i) => (
              <TableCell key={h} align={i === 0 ? 'left' : 'right'} sx={{ fontWeight: 700, pl: i === 0 ? 0 : undefined }}>
                {h}
              </TableCell>
            ))}
          </TableRow>
        </TableHead>
        <TableBody>
          {table.rows.map((r) => (
            <TableRow key={r[0]}>
              {r.map((c, i) =>
                i === 0 ? (
                  <TableCell key={i} component="th" scope="row" sx={{ pl: 0 }}>
                    {c}
                  </TableCell>
                ) : (
                  <TableCell key={i} align="right" sx={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }}>
                    {c}
                  </TableCell>
                ),
              )}
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </TableContainer>
  );
}

function rawRows(entry: ModelEntry): [string, string][] {
  const details: [string, string][] =
    entry.task === 'classify'
      ? [
          ['labels', `${entry.labels.length} (${entry.labels.map((l) => l.display).join(', ')})`],
          ['input', `${entry.input.size}x${entry.input.size} RGB, mean ${entry.input.mean.join('/')}, std ${entry.input.std.join('/')}`],
          ['outputs', `${entry.outputs.probs}${entry.outputs.cam ? `, ${entry.outputs.cam} (class activation maps)` : ''}`],
        ]
      : entry.task === 'upscale'
      ? [
          ['image', `${entry.cond_size}x${entry.cond_size} -> ${entry.image_size}x${entry.image_size} RGB`],
          ['prediction', entry.prediction],
          ['sampler', `${entry.sampler.solver}, ${entry.sampler.default_steps} steps, condition noise s ${entry.sampler.s}, t_eps ${entry.sampler.t_eps}, shift ${entry.sampler.shift}`],
        ]
      : [
          ['image', `${entry.image_size}x${entry.image_size} RGB`],
          ['classes', `${entry.classes.length} (${entry.classes.map((c) => c.display).join(', ')})`],
          ['prediction', entry.prediction],
          ['sampler', `${entry.sampler.solver}, ${entry.sampler.default_steps} steps, guidance ${entry.sampler.default_cfg_scale}, t_eps ${entry.sampler.t_eps}, shift ${entry.sampler.shift}`],
        ];
  const files: [string, string][] = Object.entries(entry.files).map(([v, f]) => [
    `file ${v}${v === entry.default_variant ? ' (default)' : ''}`,
    [`${f.file}, ${formatBytes(f.bytes)}`, `sha256 ${f.sha256}`, ...flatten(f.info ?? {}).map(([k, val]) => `${k}: ${val}`)].join('; '),
  ]);
  return [
    ...flatten(entry.metrics ?? {}, 'metrics'),
    ...files,
    ...details,
    ...flatten(entry.extra).slice(0, 40),
    ['exported', entry.exported ?? '—'],
    ['produced by', Object.entries(entry.producer ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || '—'],
  ];
}

function ModelSection({ entry, blurb, variant }: { entry: ModelEntry; blurb: string; variant?: string }) {
  const [open, setOpen] = useState(false);
  const fig = modelFigures(entry, variant);
  const raw = rawRows(entry);
  const id = `raw-${entry.task}`;
  const charts = [fig.perBreed, fig.confusion].filter(Boolean).length;
  return (
    <Card component="section" aria-labelledby={`title-${entry.task}`} data-testid={`about-${entry.task}`}>
      <CardContent>
        <Typography variant="h5" component="h2" id={`title-${entry.task}`} gutterBottom>
          {TITLES[entry.task]}
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 2, maxWidth: 760 }}>
          {blurb}
        </Typography>
        <Grid container spacing={3}>
          <Grid size={{ xs: 12, md: charts ? 6 : 12 }}>
            <Stack spacing={1} data-testid={`figures-${entry.task}`} sx={{ maxWidth: 760 }}>
              {fig.sentences.map((t) => (
                <Typography key={t} variant="body1">
                  {t}
                </Typography>
              ))}
            </Stack>
            {fig.table && <FiguresTable table={fig.table} testId={`table-${entry.task}`} label={`${TITLES[entry.task]}: figures`} />}
          </Grid>
          {charts > 0 && (
            <Grid size={{ xs: 12, md: 6 }}>
              <Stack spacing={3}>
                {fig.perBreed && <BreedBars {...fig.perBreed} testId={`per-breed-${entry.task}`} />}
                {fig.confusion && <ConfusionMatrix {...fig.confusion} testId={`confusion-${entry.task}`} />}
              </Stack>
            </Grid>
          )}
        </Grid>
        <Button size="small" sx={{ mt: 1, px: 1 }} onClick={() => setOpen((o) => !o)} aria-expanded={open} aria-controls={id} data-testid={`details-${entry.task}`}>
          {open ? 'Hide' : 'Show'} the raw figures and details
        </Button>
        <Collapse in={open} id={id} unmountOnExit>
          <KV rows={raw} testId={`metrics-${entry.task}`} />
        </Collapse>
      </CardContent>
    </Card>
  );
}

export default function AboutPage() {
  const { manifest, manifestError, caps, models, backendPref } = useEngine();
  // the classifier file this browser runs (loaded, or the one it would load)
  const classifierVariant = (e: ClassifierEntry) =>
    models.classifier.info?.variant ?? chooseVariant(e, backendPref === 'webgpu' || (backendPref === 'auto' && caps?.webgpu) ? 'webgpu' : 'wasm', !!caps?.shaderF16);
  const [cleared, setCleared] = useState<string | null>(null);
  const clear = async () => {
    try {
      const ok = typeof caches !== 'undefined' && (await caches.delete(CACHE_NAME));
      setCleared(ok ? 'Cached models deleted: they will be downloaded again next time.' : 'Nothing was cached.');
    } catch (e) {
      setCleared(`Could not clear the cache: ${(e as Error).message}`);
    }
  };
  return (
    <Stack spacing={3}>
      <Box>
        <Typography variant="h3" component="h1" gutterBottom>
          About tinycats
        </Typography>
        <Typography color="text.secondary" sx={{ maxWidth: 760 }}>
          Small models trained in PyTorch, exported to ONNX and run in your browser by ONNX Runtime Web in Web Workers. Everything on this page comes from
          the models' manifest.
        </Typography>
      </Box>
      {manifestError && <Alert severity="warning">{manifestError}</Alert>}
      {!manifest && !manifestError && <LinearProgress aria-label="loading the models' manifest" />}
      {manifest?.models.classifier && (
        <ModelSection
          entry={manifest.models.classifier}
          variant={classifierVariant(manifest.models.classifier)}
          blurb="A small convolutional network that tells the cat breeds of the Oxford-IIIT Pet dataset apart, and says when a photo is not a cat (it learned that from the dataset's dogs)."
        />
      )}
      {manifest?.models.generator && (
        <ModelSection
          entry={manifest.models.generator}
          blurb="A tiny diffusion transformer trained with flow matching, conditioned on the breed; classifier-free guidance runs in the browser's sampler."
        />
      )}
      {manifest?.models.upscaler && (
        <ModelSection
          entry={manifest.models.upscaler}
          blurb={`A small convolutional U-Net, the second stage of a cascade: it turns the generator's ${manifest.models.upscaler.cond_size} px cats into ${manifest.models.upscaler.image_size} px ones with the same flow-matching sampler, conditioned on the small image.`}
        />
      )}
      {manifest && (
        <Typography variant="body2" color="text.secondary">
          How fast the models run on this device: <Link href={href('benchmark')}>the Benchmark page</Link> measures it.
        </Typography>
      )}
      <Grid container spacing={3}>
        <Grid size={{ xs: 12, md: 6 }}>
          <Card>
            <CardContent>
              <Typography variant="h5" component="h2" gutterBottom>
                Data and license
              </Typography>
              <Typography variant="body2" sx={{ mb: 1 }}>
                The breed photos come from the{' '}
                <Link href="https://www.robots.ox.ac.uk/~vgg/data/pets/" target="_blank" rel="noreferrer">
                  Oxford-IIIT Pet Dataset
                </Link>{' '}
                (O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar, "Cats and Dogs", CVPR 2012), licensed under{' '}
                <Link href="https://creativecommons.org/licenses/by-sa/4.0/" target="_blank" rel="noreferrer">
                  Creative Commons Attribution-ShareAlike 4.0 (CC BY-SA 4.0)
                </Link>
                ; the copyright of each image stays with its owner.
              </Typography>
              <Typography variant="body2">
                The small example photos on the Generate page are downscaled copies of Oxford-IIIT Pet images, shared under the same license (
                <Link href={`${import.meta.env.BASE_URL}examples/ATTRIBUTION.md`}>attribution</Link>).
              </Typography>
            </CardContent>
          </Card>
        </Grid>
        <Grid size={{ xs: 12, md: 6 }}>
          <Card>
            <CardContent>
              <Typography variant="h5" component="h2" gutterBottom>
                Privacy
              </Typography>
              <Typography variant="body2" sx={{ mb: 1 }}>
                No image leaves your device. Photos are decoded and classified inside this browser tab; generated cats are made here too. There are no analytics,
                no cookies and no server calls other than downloading the app and its models.
              </Typography>
              <Typography variant="body2" sx={{ mb: 2 }}>
                The models are kept in this browser's Cache Storage (checked against their sha256 each time) so the next visit needs no download.
              </Typography>
              <Button variant="outlined" size="small" onClick={() => void clear()}>
                Delete cached models
              </Button>
              {cleared && (
                <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
                  {cleared}
                </Typography>
              )}
              {caps && (
                <>
                  <Typography variant="overline" component="h3" color="text.secondary" sx={{ display: 'block', mt: 2 }}>
                    This browser
                  </Typography>
                  <KV
                    rows={[
                      ['cross-origin isolated', caps.isolated ? 'yes (multi-threaded WebAssembly)' : 'no (one thread)'],
                      ['CPU cores', String(caps.cores)],
                      ['WebGPU', caps.webgpu ? `${caps.adapter}${caps.shaderF16 ? ', shader-f16' : ''}${caps.fallbackAdapter ? ' (software)' : ''}` : (caps.gpuProblem ?? 'no')],
                    ]}
                  />
                </>
              )}
            </CardContent>
          </Card>
        </Grid>
      </Grid>
    </Stack>
  );
}
