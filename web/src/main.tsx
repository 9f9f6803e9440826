import CssBaseline from '@mui/material/CssBaseline';
import { ThemeProvider } from '@mui/material/styles';
import useMediaQuery from '@mui/material/useMediaQuery';
import { StrictMode, useMemo } from 'react';
import { createRoot } from 'react-dom/client';
import App from './App';
import { hub } from './engine/hub';
import { makeTheme } from './theme';

function Root() {
  const dark = useMediaQuery('(prefers-color-scheme: dark)');
  const theme = useMemo(() => makeTheme(dark ? 'dark' : 'light'), [dark]);
  return (
    <ThemeProvider theme={theme}>
      <CssBaseline />
      <App />
    </ThemeProvider>
  );
}

// start the models of the first page right away, in parallel with rendering
const [first = 'classify', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
if (first === 'classify' || first === 'generate' || first === '') void hub.ensure('classifier').catch(() => {});
if (first === 'generate') {
  const variant = new URLSearchParams(query).get('variant');
  void hub.ensure('generator', variant ? { variant } : {}).catch(() => {});
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
