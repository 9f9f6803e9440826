import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import Card from '@mui/material/Card';
import CardContent from '@mui/material/CardContent';
import Chip from '@mui/material/Chip';
import CircularProgress from '@mui/material/CircularProgress';
import FormControlLabel from '@mui/material/FormControlLabel';
import Grid from '@mui/material/Grid';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import Tooltip from '@mui/material/Tooltip';
import { alpha } from '@mui/material/styles';
import Typography from '@mui/material/Typography';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { DropZone } from '../components/DropZone';
import { ModelStatus } from '../components/ModelStatus';
import { pct, ProbBars } from '../components/ProbBars';
import { decide } from '../engine/decide';
import type { Label } from '../engine/manifest';
import { RgbaCanvas } from '../components/RgbCanvas';
import { camFor, heatmapRgba } from '../engine/heatmap';
import { hub } from '../engine/hub';
import { decodeImage, ImageInputError } from '../engine/imageio';
import { squareResize, toTensor, unblockRGB } from '../engine/preprocess';
import { useEngine } from '../useEngine';

interface Result {
  name: string;
  size: number;
  crop: Uint8ClampedArray<ArrayBuffer>;
  probs: Float32Array;
  cam?: Float32Array;
  camShape?: [number, number];
  ms: number;
  orig: [number, number];
  /** the small picture a nearest-neighbour enlargement was read back as, when it was one */
  blocksOf: [number, number] | null;
}

function rgbToRgba(rgb: Uint8Array, n: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) {
    out[i * 4] = rgb[i * 3]!;
    out[i * 4 + 1] = rgb[i * 3 + 1]!;
    out[i * 4 + 2] = rgb[i * 3 + 2]!;
    out[i * 4 + 3] = 255;
  }
  return out;
}

const SAMPLES = ['maine_coon', 'siamese', 'bengal', 'persian'];

/** An unsure answer (engine/decide.ts): no single breed, the most probable labels instead. */
function UnsureAnswer({ ids, probs, labels, unsureBelow }: { ids: number[]; probs: Float32Array; labels: Label[]; unsureBelow: number }) {
  return (
    <Box data-testid="classify-unsure">
      <Typography variant="h5" component="h2">
        Not sure — it could be one of these
      </Typography>
      <Stack component="ol" spacing={0.5} sx={{ listStyle: 'none', p: 0, my: 1.5 }}>
        {ids.map((id) => (
          <Stack component="li" key={id} direction="row" spacing={2} sx={{ alignItems: 'baseline', flexWrap: 'wrap' }} data-testid="unsure-candidate">
            <Typography variant="h6" component="span">
              {labels[id]?.display ?? `class ${id}`}
            </Typography>
            <Typography variant="h6" component="span" color="primary" sx={{ fontVariantNumeric: 'tabular-nums' }}>
              {pct(probs[id]!)}
            </Typography>
          </Stack>
        ))}
      </Stack>
      <Typography variant="body2" color="text.secondary">
        The best guess is under {pct(unsureBelow)}, the confidence the classifier needs to name one answer. A sharper photo of the whole cat, face visible, may help.
      </Typography>
    </Box>
  );
}

export default function ClassifyPage() {
  const { manifest } = useEngine();
  const entry = manifest?.models.classifier;
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<{ title: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [showCam, setShowCam] = useState(false);
  const [camClass, setCamClass] = useState<number | null>(null);
  const seq = useRef(0);

  useEffect(() => {
    void hub.ensure('classifier').catch(() => {});
  }, []);

  const classify = useCallback(async (blob: Blob, name: string) => {
    const my = ++seq.current;
    setBusy(true);
    setError(null);
    try {
      const m = await hub.manifest();
      const e = m.models.classifier;
      if (!e) throw new Error('the manifest has no classifier yet');
      const size = e.input.size;
      const img = await decodeImage(blob, size);
      const src = e.input.unblock ? unblockRGB(img.rgb, img.w, img.h) : img;
      const crop = squareResize(src.rgb, src.w, src.h, size);
      const tensor = toTensor(crop, size, e.input);
      const client = await hub.ensure('classifier');
      const r = await client.classify(tensor, 1);
      if (my !== seq.current) return;
      setResult({ name, size, crop: rgbToRgba(crop, size * size), probs: r.probs, cam: r.cam, camShape: r.camShape, ms: r.ms, orig: [img.origW, img.origH], blocksOf: src.rgb === img.rgb ? null : [src.w, src.h] });
      setCamClass(null);
    } catch (err) {
      if (my !== seq.current) return;
      if (err instanceof ImageInputError) {
        const titles = { empty: 'Empty file', not_image: 'Not an image', corrupt: 'Could not read this image', too_large: 'Image too large' };
        setError({ title: titles[err.problem], message: err.message });
      } else setError({ title: 'Something went wrong', message: (err as Error).message });
    } finally {
      if (my === seq.current) setBusy(false);
    }
  }, []);

  const decision = result && entry ? decide(result.probs, entry) : null;
  const top = decision?.top ?? -1;
  const unsure = decision?.unsure ?? false;
  // an unsure "other" is not presented as "not a cat" either: it is one of the candidates
  const notCat = !unsure && (decision?.isOther ?? false);
  const shownClass = camClass ?? top;
  const heat = useMemo(() => {
    if (!result?.cam || !result.camShape || shownClass < 0) return null;
    const [h, w] = result.camShape;
    return { rgba: heatmapRgba(camFor(result.cam, result.camShape, shownClass), h, w), h, w };
  }, [result, shownClass]);

  return (
    <Stack spacing={3}>
      <Box>
        <Typography variant="h3" component="h1" gutterBottom>
          Which breed is this cat?
        </Typography>
        <Typography color="text.secondary" sx={{ maxWidth: 720 }}>
          A small convolutional network, trained on the Oxford-IIIT Pet photos, tells 12 cat breeds apart and says when a photo is not a cat at all. It runs here, in
          your browser.
        </Typography>
      </Box>
      <ModelStatus model="classifier" />
      <Grid container spacing={3}>
        <Grid size={{ xs: 12, md: 6 }}>
          <Card>
            <CardContent>
              <DropZone onFile={(b, n) => void classify(b, n)}>
                {result && (
                  <Box sx={{ position: 'relative', width: '100%', maxWidth: 360, mx: 'auto', borderRadius: 3, overflow: 'hidden' }}>
                    <RgbaCanvas rgba={result.crop} width={result.size} height={result.size} display="100%" testId="input-preview" label={`your photo, ${result.name}, as the classifier sees it`} />
                    {showCam && heat && (
                      <RgbaCanvas
                        rgba={heat.rgba}
                        width={heat.w}
                        height={heat.h}
                        display="100%"
                        testId="cam-overlay"
                        label={`heatmap of where the classifier saw ${entry?.labels[shownClass]?.display ?? 'the breed'}`}
                        sx={{ position: 'absolute', inset: 0, height: '100%', mixBlendMode: 'normal' }}
                      />
                    )}
                    {busy && (
                      <Box sx={{ position: 'absolute', inset: 0, display: 'grid', placeItems: 'center', bgcolor: (t) => alpha(t.palette.background.paper, 0.5) }}>
                        <CircularProgress />
                      </Box>
                    )}
                  </Box>
                )}
              </DropZone>
              <Stack direction="row" spacing={1} sx={{ mt: 2, alignItems: 'center', flexWrap: 'wrap' }} useFlexGap>
                <Typography variant="body2" color="text.secondary">
                  No photo at hand? Try:
                </Typography>
                {SAMPLES.map((k) => {
                  const name = entry?.labels.find((l) => l.key === k)?.display ?? k.replace(/_/g, ' ');
                  return (
                    <Tooltip key={k} title={`Oxford-IIIT Pet example (${name})`}>
                      <ButtonBase
                        data-testid={`sample-${k}`}
                        aria-label={`Classify an example photo of a ${name}`}
                        onClick={async () => {
                          const r = await fetch(`${import.meta.env.BASE_URL}examples/${k}.jpg`);
                          void classify(await r.blob(), `${k}.jpg`);
                        }}
                        sx={{ borderRadius: 2, '&:hover': { outline: '2px solid', outlineColor: 'primary.main' } }}
                      >
                        <Box component="img" src={`${import.meta.env.BASE_URL}examples/${k}.jpg`} alt="" sx={{ width: 44, height: 44, borderRadius: 2, objectFit: 'cover', display: 'block' }} />
                      </ButtonBase>
                    </Tooltip>
                  );
                })}
              </Stack>
            </CardContent>
          </Card>
        </Grid>
        <Grid size={{ xs: 12, md: 6 }}>
          <Card sx={{ height: '100%' }}>
            <CardContent>
              {error && (
                <Alert severity="warning" data-testid="image-error" sx={{ mb: 2 }}>
                  <AlertTitle>{error.title}</AlertTitle>
                  {error.message}
                </Alert>
              )}
              {!result && !error && (
                <Box sx={{ py: 6, textAlign: 'center', color: 'text.secondary' }}>
                  <Typography variant="h6" component="h2">{busy ? 'Looking…' : 'Results appear here'}</Typography>
                  <Typography variant="body2">Top breeds with their probabilities, and a heatmap of where the network looked.</Typography>
                </Box>
              )}
              {result && entry && (
                <Stack spacing={2}>
                  {notCat ? (
                    <Alert severity="info" data-testid="not-a-cat">
                      <AlertTitle>This does not look like a cat</AlertTitle>
                      The classifier thinks this is something else (a dog or another object). It only knows 12 cat breeds, so try a photo of a cat.
                    </Alert>
                  ) : null}
                  {unsure && decision ? (
                    <UnsureAnswer ids={decision.candidates} probs={result.probs} labels={entry.labels} unsureBelow={entry.unsure_below!} />
                  ) : (
                    <Box>
                      <Typography variant="overline" color="text.secondary">
                        {notCat ? 'Best guess' : 'Most likely breed'}
                      </Typography>
                      <Stack direction="row" spacing={2} sx={{ alignItems: 'baseline', flexWrap: 'wrap' }}>
                        <Typography variant="h4" component="p" data-testid="top-breed">
                          {entry.labels[top]?.display}
                        </Typography>
                        <Typography variant="h5" component="p" color="primary" data-testid="top-prob" sx={{ fontVariantNumeric: 'tabular-nums' }}>
                          {pct(result.probs[top]!)}
                        </Typography>
                      </Stack>
                    </Box>
                  )}
                  {/* unsure: plainly by probability, like the candidates above (no label is put first) */}
                  <ProbBars probs={result.probs} labels={entry.labels} otherId={entry.other_id} order={unsure ? undefined : decision?.ranked} selected={showCam ? shownClass : undefined} onSelect={(id) => setCamClass(id)} />
                  <Stack direction="row" sx={{ alignItems: 'center', justifyContent: 'space-between', flexWrap: 'wrap' }}>
                    <FormControlLabel
                      control={<Switch checked={showCam} onChange={(e) => setShowCam(e.target.checked)} disabled={!result.cam} slotProps={{ input: { 'aria-label': 'heatmap' } }} data-testid="cam-toggle" />}
                      label={result.cam ? `Heatmap: where it saw "${entry.labels[shownClass]?.display}"` : 'No heatmap in this model'}
                    />
                    <Chip size="small" label={`${result.ms.toFixed(1)} ms · ${result.orig[0]}x${result.orig[1]}${result.blocksOf ? `, blocks of ${result.blocksOf[0]}x${result.blocksOf[1]}` : ''} → ${result.size}px`} data-testid="classify-ms" />
                  </Stack>
                </Stack>
              )}
            </CardContent>
          </Card>
        </Grid>
      </Grid>
    </Stack>
  );
}
