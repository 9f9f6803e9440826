import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import LinearProgress from '@mui/material/LinearProgress';
import Stack from '@mui/material/Stack';
import { alpha } from '@mui/material/styles';
import Typography from '@mui/material/Typography';
import type { Label } from '../engine/manifest';

export function topK(probs: Float32Array, k: number): number[] {
  return Array.from(probs.keys())
    .sort((a, b) => probs[b]! - probs[a]!)
    .slice(0, k);
}

export function pct(p: number): string {
  return `${(100 * p).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
}

/** The top classes as bars; clicking one selects it (e.g. for the heatmap). */
export function ProbBars({
  probs,
  labels,
  otherId,
  k = 5,
  order,
  selected,
  onSelect,
}: {
  probs: Float32Array;
  labels: Label[];
  otherId: number;
  k?: number;
  /** label ids in display order (the decided label first); default: by probability */
  order?: number[];
  selected?: number;
  onSelect?: (id: number) => void;
}) {
  return (
    <Stack spacing={0.5} data-testid="prob-bars">
      {(order ?? topK(probs, k)).slice(0, k).map((id, rank) => (
        <ButtonBase
          key={id}
          onClick={() => onSelect?.(id)}
          aria-pressed={onSelect ? selected === id : undefined}
          sx={(t) => ({
            display: 'block',
            textAlign: 'left',
            borderRadius: 2,
            px: 1.25,
            py: 0.75,
            bgcolor: selected === id ? alpha(t.palette.primary.main, 0.08) : 'transparent',
          })}
        >
          <Stack direction="row" sx={{ justifyContent: 'space-between', mb: 0.5 }}>
            <Typography variant="body2" sx={{ fontWeight: rank === 0 ? 700 : 500 }}>
              {labels[id]?.display ?? `class ${id}`}
            </Typography>
            <Typography variant="body2" color="text.secondary" sx={{ fontVariantNumeric: 'tabular-nums' }}>
              {pct(probs[id]!)}
            </Typography>
          </Stack>
          <Box aria-hidden="true">
            <LinearProgress variant="determinate" value={100 * probs[id]!} color={id === otherId ? 'warning' : 'primary'}
              sx={rank === 0 ? undefined : { opacity: 0.55 }} />
          </Box>
        </ButtonBase>
      ))}
    </Stack>
  );
}
