import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import LinearProgress from '@mui/material/LinearProgress';
import Stack from '@mui/material/Stack';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import { hub } from '../engine/hub';
import { formatBytes, type ModelKey } from '../engine/manifest';
import type { LoadResult } from '../engine/protocol';
import { useEngine } from '../useEngine';
import { MemoryIcon } from './icons';

export function backendLabel(info: Pick<LoadResult, 'backend' | 'threads'>): string {
  const b = info.backend === 'webgpu' ? 'WebGPU' : 'WASM';
  return `${b} · ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
}

const NAMES: Record<ModelKey, string> = { classifier: 'Classifier', generator: 'Generator', upscaler: 'Upscaler' };

const PHASE: Record<string, string> = {
  cache: 'Reading from the browser cache',
  download: 'Downloading',
  verify: 'Checking sha256',
  init: 'Starting ONNX Runtime',
};

/** Load progress, errors (with retry) and, once ready, which backend and how many threads run the model. */
export function ModelStatus({ model, testId = 'backend' }: { model: ModelKey; testId?: string }) {
  const { models, manifestError } = useEngine();
  const s = models[model];
  const name = NAMES[model];
  if (manifestError) {
    return (
      <Alert severity="warning" data-testid={`${model}-error`}>
        {manifestError}
      </Alert>
    );
  }
  if (s.status === 'error' && s.missing) {
    return (
      <Alert severity="info" data-testid={`${model}-missing`}>
        {s.error} Export it with <code>tinycats export {model}</code>.
      </Alert>
    );
  }
  if (s.status === 'error') {
    return (
      <Alert
        severity="error"
        data-testid={`${model}-error`}
        action={
          <Button color="inherit" size="small" onClick={() => void hub.ensure(model).catch(() => {})}>
            Retry
          </Button>
        }
      >
        {name} could not be loaded: {s.error}
      </Alert>
    );
  }
  if (s.status === 'loading' || s.status === 'idle') {
    const p = s.progress;
    const pct = p && p.total > 0 ? Math.min(100, (100 * p.loaded) / p.total) : 0;
    const indeterminate = !p || p.phase === 'init' || p.phase === 'verify' || (p.phase === 'cache' && p.loaded === 0);
    return (
      <Box data-testid={`${model}-loading`} sx={{ py: 0.5 }}>
        <Stack direction="row" sx={{ justifyContent: 'space-between', mb: 0.75 }}>
          <Typography variant="body2" color="text.secondary">
            {name}: {p ? `${PHASE[p.phase]} ${p.phase === 'download' ? p.file : ''}` : 'waiting'}
          </Typography>
          {p?.phase === 'download' && (
            <Typography variant="body2" color="text.secondary">
              {formatBytes(p.loaded)} / {formatBytes(p.total)}
            </Typography>
          )}
        </Stack>
        <LinearProgress variant={indeterminate ? 'indeterminate' : 'determinate'} value={pct} aria-label={`${name} loading`} />
      </Box>
    );
  }
  const info = s.info!;
  const loadMs = info.downloadMs + info.initMs;
  return (
    <Stack direction="row" spacing={1} useFlexGap sx={{ flexWrap: 'wrap', alignItems: 'center' }} data-testid={`${model}-ready`}>
      <Tooltip title={info.adapter ? `GPU: ${info.adapter}` : info.isolated ? 'Cross-origin isolated: multi-threaded WebAssembly' : 'Not cross-origin isolated: one thread'}>
        <Chip icon={<MemoryIcon />} color="primary" variant="outlined" size="small" label={backendLabel(info)} data-testid={testId} />
      </Tooltip>
      <Chip size="small" variant="outlined" label={`${name.toLowerCase()} ${info.variant} · ${formatBytes(info.bytes)}`} />
      <Tooltip title={info.fromCache ? 'Taken from the browser cache and checked against the manifest sha256' : 'Downloaded, checked against the manifest sha256, and cached for next time'}>
        <Chip size="small" variant="outlined" color="success" label={`${info.fromCache ? 'cached' : 'downloaded'} · sha256 ok · ready in ${Math.round(loadMs)} ms`} />
      </Tooltip>
      {(info.fallbackReason || info.note) && (
        <Typography variant="caption" color="text.secondary">
          {info.fallbackReason ? `WebGPU not used: ${info.fallbackReason}. ` : ''}
          {info.note ?? ''}
        </Typography>
      )}
    </Stack>
  );
}
