import { alpha, createTheme, responsiveFontSizes } from '@mui/material/styles';

const purple = '#5b3fd6';
const orange = '#ff7a45';

export function makeTheme(mode: 'light' | 'dark') {
  const dark = mode === 'dark';
  // the keyboard focus ring: one visible outline on every control (WCAG 2.4.7)
  const focusRing = { outline: `3px solid ${dark ? '#c9bbff' : purple}`, outlineOffset: 2 };
  return responsiveFontSizes(createTheme({
    palette: {
      mode,
      // dark mode: dark text on the light purple (white on it would be 3:1, under the 4.5:1 text needs);
      // its hover shade (dark) keeps 5:1 with that text
      primary: dark ? { main: '#9d86ff', dark: '#8c74ff', contrastText: '#140f2b' } : { main: purple },
      secondary: { main: orange },
      background: dark ? { default: '#0f0d17', paper: '#181524' } : { default: '#f7f5fc', paper: '#ffffff' },
      // dark enough (light mode) / light enough (dark mode) for 4.5:1 text contrast on the paper
      success: { main: dark ? '#3ccf95' : '#17774f' },
      warning: { main: dark ? '#ffa552' : '#a34e00' },
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
      MuiCssBaseline: {
        styleOverrides: {
          'a:focus-visible, [tabindex]:not(input):not(textarea):focus-visible': focusRing,
          // people who ask for less motion get no animations or transitions (the Generate page
          // also stops its live preview)
          '@media (prefers-reduced-motion: reduce)': {
            '*, *::before, *::after': {
              animationDuration: '0.01ms !important',
              animationIterationCount: '1 !important',
              transitionDuration: '0.01ms !important',
              scrollBehavior: 'auto !important',
            },
          },
        },
      },
      MuiButtonBase: { styleOverrides: { root: { '&.Mui-focusVisible': focusRing } } },
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
    },
  }));
}
