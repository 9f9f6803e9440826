import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import { alpha } from '@mui/material/styles';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import type { Label } from '../engine/manifest';
import { Logo } from './Logo';

function Thumb({ k, size }: { k: string; size: number }) {
  const [failed, setFailed] = useState(false);
  if (failed)
    return (
      <Box sx={{ width: size, height: size, display: 'grid', placeItems: 'center', borderRadius: 2, bgcolor: 'action.hover' }}>
        <Logo size={size * 0.6} />
      </Box>
    );
  return (
    <Box
      component="img"
      src={`${import.meta.env.BASE_URL}examples/${k}.jpg`}
      alt=""
      loading="lazy"
      onError={() => setFailed(true)}
      sx={{ width: size, height: size, borderRadius: 2, objectFit: 'cover', display: 'block' }}
    />
  );
}

export { Thumb as BreedThumb };

/** A grid of the generator's classes, each with a small real example photo. */
export function BreedPicker({ classes, value, onChange, testIdPrefix = 'breed' }: { classes: Label[]; value: number; onChange: (id: number) => void; testIdPrefix?: string }) {
  return (
    <Box sx={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(84px, 1fr))', gap: 1 }} role="radiogroup" aria-label="breed">
      {classes.map((c) => {
        const sel = c.id === value;
        return (
          <ButtonBase
            key={c.id}
            role="radio"
            aria-checked={sel}
            data-testid={`${testIdPrefix}-${c.key}`}
            onClick={() => onChange(c.id)}
            sx={(t) => ({
              flexDirection: 'column',
              p: 0.75,
              borderRadius: 3,
              border: `2px solid ${sel ? t.palette.primary.main : 'transparent'}`,
              bgcolor: sel ? alpha(t.palette.primary.main, 0.08) : 'transparent',
              transition: 'border-color .12s, background-color .12s',
              '&:hover': { bgcolor: alpha(t.palette.primary.main, 0.05) },
            })}
          >
            <Thumb k={c.key} size={64} />
            <Typography variant="caption" sx={{ mt: 0.5, lineHeight: 1.2, fontWeight: sel ? 700 : 500, textAlign: 'center' }}>
              {c.display}
            </Typography>
          </ButtonBase>
        );
      })}
    </Box>
  );
}
