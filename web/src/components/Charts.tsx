// Two small charts for the About page, drawn with plain elements and SVG (no chart library).
import Box from '@mui/material/Box';
import { alpha, useTheme } from '@mui/material/styles';
import Typography from '@mui/material/Typography';
import type { BreedBar, Confusion } from '../engine/figures';
import { percent } from '../engine/figures';

/** One horizontal bar per breed, best first; the numbers are written next to the bars. */
export function BreedBars({ bars, title, caption, testId }: { bars: BreedBar[]; title: string; caption: string; testId?: string }) {
  const sorted = [...bars].sort((a, b) => b.value - a.value);
  return (
    <Box component="figure" sx={{ m: 0 }} data-testid={testId}>
      <Typography variant="subtitle1" component="figcaption" sx={{ fontWeight: 700 }}>
        {title}
        <Typography variant="body2" color="text.secondary" component="span" sx={{ display: 'block', fontWeight: 400 }}>
          {caption}
        </Typography>
      </Typography>
      <Box component="ul" sx={{ listStyle: 'none', p: 0, m: 0, mt: 1.5, display: 'grid', gridTemplateColumns: 'minmax(7em, max-content) 1fr 3.5em', columnGap: 1.5, rowGap: 0.75, alignItems: 'center' }}>
        {sorted.map((b) => (
          <Box component="li" key={b.key} sx={{ display: 'contents' }} data-testid={testId ? `${testId}-${b.key}` : undefined}>
            <Typography variant="body2" component="span">
              {b.label}
            </Typography>
            <Box aria-hidden="true" sx={(t) => ({ height: 10, borderRadius: 5, bgcolor: alpha(t.palette.primary.main, 0.12), overflow: 'hidden' })}>
              <Box sx={{ height: '100%', width: `${(100 * b.value).toFixed(1)}%`, bgcolor: 'primary.main', borderRadius: 5 }} />
            </Box>
            <Typography variant="body2" component="span" sx={{ textAlign: 'right', fontVariantNumeric: 'tabular-nums' }}>
              {percent(b.value)}
            </Typography>
          </Box>
        ))}
      </Box>
    </Box>
  );
}

/** The confusion matrix as a heat map: each row (true label) shaded by its own share of photos. */
export function ConfusionMatrix({ matrix, title, caption, testId }: { matrix: Confusion; title: string; caption: string; testId?: string }) {
  const theme = useTheme();
  const n = matrix.counts.length;
  const cell = 30;
  const left = 150;
  const top = 130;
  // room on the right for the last columns' slanted labels
  const size = { w: left + n * cell + 70, h: top + n * cell + 4 };
  const rowSums = matrix.counts.map((r) => r.reduce((a, b) => a + b, 0));
  const correct = matrix.counts.reduce((a, r, i) => a + (r[i] ?? 0), 0);
  const total = rowSums.reduce((a, b) => a + b, 0);
  const worst = matrix.counts
    .flatMap((r, i) => r.map((c, j) => ({ i, j, c })))
    .filter((x) => x.i !== x.j && x.c > 0)
    .sort((a, b) => b.c - a.c)[0];
  const summary =
    `Confusion matrix of ${total} test photos, ${correct} on the diagonal (right).` +
    (worst ? ` The most frequent mistake: ${worst.c} ${matrix.labels[worst.i]} photos called ${matrix.labels[worst.j]}.` : '');
  const ink = theme.palette.primary.main;
  return (
    <Box component="figure" sx={{ m: 0 }} data-testid={testId}>
      <Typography variant="subtitle1" component="figcaption" sx={{ fontWeight: 700 }}>
        {title}
        <Typography variant="body2" color="text.secondary" component="span" sx={{ display: 'block', fontWeight: 400 }}>
          {caption} {summary}
        </Typography>
      </Typography>
      <Box
        component="svg"
        viewBox={`0 0 ${size.w} ${size.h}`}
        role="img"
        aria-label={summary}
        sx={{ display: 'block', width: '100%', maxWidth: size.w, height: 'auto', mt: 1.5, fontFamily: theme.typography.fontFamily }}
      >
        <text x={left + (n * cell) / 2} y={12} textAnchor="middle" fontSize={12} fill={theme.palette.text.secondary}>
          said by the classifier →
        </text>
        <text x={12} y={top + (n * cell) / 2} textAnchor="middle" fontSize={12} fill={theme.palette.text.secondary} transform={`rotate(-90 12 ${top + (n * cell) / 2})`}>
          true breed →
        </text>
        {matrix.labels.map((l, j) => (
          <text key={`c${j}`} x={0} y={0} fontSize={11} fill={theme.palette.text.primary} transform={`translate(${left + j * cell + cell / 2 + 4} ${top - 6}) rotate(-60)`}>
            {l.length > 18 ? `${l.slice(0, 17)}…` : l}
          </text>
        ))}
        {matrix.counts.map((row, i) => (
          <g key={i}>
            <text x={left - 6} y={top + i * cell + cell / 2 + 4} textAnchor="end" fontSize={11} fill={theme.palette.text.primary}>
              {matrix.labels[i]!.length > 20 ? `${matrix.labels[i]!.slice(0, 19)}…` : matrix.labels[i]}
            </text>
            {row.map((c, j) => {
              const share = rowSums[i] ? c / rowSums[i]! : 0;
              const strong = share > 0.5;
              return (
                <g key={j}>
                  <rect
                    x={left + j * cell}
                    y={top + i * cell}
                    width={cell - 2}
                    height={cell - 2}
                    rx={4}
                    fill={c === 0 ? alpha(ink, 0.04) : alpha(ink, 0.12 + 0.88 * share)}
                    stroke={i === j ? ink : 'none'}
                    strokeWidth={i === j ? 1 : 0}
                  >
                    <title>{`${matrix.labels[i]} called ${matrix.labels[j]}: ${c}`}</title>
                  </rect>
                  {c > 0 && (
                    <text
                      x={left + j * cell + (cell - 2) / 2}
                      y={top + i * cell + (cell - 2) / 2 + 4}
                      textAnchor="middle"
                      fontSize={10}
                      fill={strong ? theme.palette.primary.contrastText : theme.palette.text.primary}
                      pointerEvents="none"
                    >
                      {c}
                    </text>
                  )}
                </g>
              );
            })}
          </g>
        ))}
      </Box>
    </Box>
  );
}
