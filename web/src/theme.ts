import { alpha, createTheme, responsiveFontSizes } from '@mui/material/styles';

const purple = '#5b3fd6';
const orange = '#ff7a45';

export function makeTheme(mode: 'light' | 'dark') {
  const dark = mode === 'dark';
  return responsiveFontSizes(createTheme({
    palette: {
      mode,
      primary: { main: dark ? '#9d86ff' : purple },
      secondary: { main: orange },
      background: dark ? { default: '#0f0d17', paper: '#181524' } : { default: '#f7f5fc', paper: '#ffffff' },
      success: { main: '#1f9d6b' },
    },
    shape: { borderRadius: 14 },
    typography: {
      fontFamily: '"Inter", system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
      h1: { fontWeight: 800, letterSpacing: '-0.03em' },
      h2: { fontWeight: 800, letterSpacing: '-0.02em' },
      h3: { fontWeight: 700, letterSpacing: '-0.02em' },
      h4: { fontWeight: 700, letterSpacing: '-0.01em' },
      h5: { fontWeight: 700 },
      h6: { fontWeight: 700 },
      button: { textTransform: 'none', fontWeight: 600 },
    },
    components: {
      MuiCard: {
        defaultProps: { variant: 'outlined' },
        styleOverrides: {
          root: ({ theme }) => ({
            borderColor: alpha(theme.palette.primary.main, dark ? 0.25 : 0.12),
            boxShadow: dark ? 'none' : `0 1px 2px ${alpha('#1b1340', 0.04)}, 0 8px 24px ${alpha('#1b1340', 0.05)}`,
          }),
        },
      },
      MuiButton: { defaultProps: { disableElevation: true }, styleOverrides: { root: { borderRadius: 12 } } },
      MuiChip: { styleOverrides: { root: { fontWeight: 600 } } },
      MuiLinearProgress: { styleOverrides: { root: { borderRadius: 8, height: 8 }, bar: { borderRadius: 8 } } },
      MuiTab: { styleOverrides: { root: { minHeight: 56, fontWeight: 600 } } },
    },
  }));
}
