import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import Chip from '@mui/material/Chip';
import Collapse from '@mui/material/Collapse';
import Grid from '@mui/material/Grid';
import Link from '@mui/material/Link';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableRow from '@mui/material/TableRow';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { CACHE_NAME } from '../engine/modelStore';
import { formatBytes, type ModelEntry } from '../engine/manifest';
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

function ModelCard({ title, entry, blurb }: { title: string; entry: ModelEntry; blurb: string }) {
  const metrics = flatten(entry.metrics ?? {});
  const extra = flatten(entry.extra).slice(0, 40);
  const [open, setOpen] = useState(false);
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
          ['classes', `${entry.classes.length} (breeds, ${entry.classes.slice(-2).map((c) => c.display).join(', ')})`],
          ['prediction', entry.prediction],
          ['sampler', `${entry.sampler.solver}, ${entry.sampler.default_steps} steps, guidance ${entry.sampler.default_cfg_scale}, t_eps ${entry.sampler.t_eps}, shift ${entry.sampler.shift}`],
        ];
  return (
    <Card sx={{ height: '100%' }}>
      <CardContent>
        <Typography variant="h5" gutterBottom>
          {title}
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
          {blurb}
        </Typography>
        <Stack direction="row" spacing={1} useFlexGap sx={{ flexWrap: 'wrap', mb: 2 }}>
          {Object.entries(entry.files).map(([v, f]) => (
            <Tooltip
              key={v}
              title={
                <Box component="span" sx={{ whiteSpace: 'pre-line' }}>
                  {[`${f.file}${v === entry.default_variant ? ' (default)' : ''}`, `sha256 ${f.sha256}`, ...flatten(f.info ?? {}).map(([k, val]) => `${k}: ${val}`)].join('\n')}
                </Box>
              }
            >
              <Chip size="small" variant={v === entry.default_variant ? 'filled' : 'outlined'} color="primary" label={`${v} · ${formatBytes(f.bytes)}`} data-testid={`file-${entry.task}-${v}`} />
            </Tooltip>
          ))}
        </Stack>
        <Typography variant="overline" color="text.secondary">
          Measured
        </Typography>
        {metrics.length ? (
          <KV rows={metrics} testId={`metrics-${entry.task}`} />
        ) : (
          <Typography variant="body2" color="text.secondary">
            No measured metrics in the manifest yet.
          </Typography>
        )}
        {extra.length > 0 && (
          <>
            <Button size="small" sx={{ mt: 1.5, px: 0 }} onClick={() => setOpen((o) => !o)}>
              {open ? 'Hide' : 'Show'} architecture and training ({extra.length})
            </Button>
            <Collapse in={open}>
              <KV rows={extra} />
            </Collapse>
          </>
        )}
        <Typography variant="overline" color="text.secondary" sx={{ display: 'block', mt: 2 }}>
          Details
        </Typography>
        <KV
          rows={[
            ...details,
            ['exported', entry.exported ?? '—'],
            ['produced by', Object.entries(entry.producer ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || '—'],
          ]}
        />
      </CardContent>
    </Card>
  );
}

export default function AboutPage() {
  const { manifest, manifestError, caps } = useEngine();
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
      <Grid container spacing={3}>
        {manifest?.models.classifier && (
          <Grid size={{ xs: 12, md: 6 }}>
            <ModelCard title="Breed classifier" entry={manifest.models.classifier} blurb="Tells the 12 cat breeds of the Oxford-IIIT Pet dataset apart, and says when a photo is not a cat (trained on dogs and other photos as 'other')." />
          </Grid>
        )}
        {manifest?.models.generator && (
          <Grid size={{ xs: 12, md: 6 }}>
            <ModelCard title="Cat generator" entry={manifest.models.generator} blurb="A tiny diffusion transformer trained with flow matching, conditioned on the breed; classifier-free guidance runs in the browser's sampler." />
          </Grid>
        )}
        {manifest?.models.upscaler && (
          <Grid size={{ xs: 12, md: 6 }}>
            <ModelCard
              title="Upscaler"
              entry={manifest.models.upscaler}
              blurb={`A small convolutional U-Net, the second stage of a cascade: it turns the generator's ${manifest.models.upscaler.cond_size} px cats into ${manifest.models.upscaler.image_size} px ones with the same flow-matching sampler, conditioned on the slightly noised small image.`}
            />
          </Grid>
        )}
        <Grid size={{ xs: 12, md: 6 }}>
          <Card>
            <CardContent>
              <Typography variant="h5" gutterBottom>
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
              <Typography variant="h5" gutterBottom>
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
                  <Typography variant="overline" color="text.secondary" sx={{ display: 'block', mt: 2 }}>
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
