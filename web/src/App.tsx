import AppBar from '@mui/material/AppBar';
import Box from '@mui/material/Box';
import Chip from '@mui/material/Chip';
import Container from '@mui/material/Container';
import IconButton from '@mui/material/IconButton';
import ListSubheader from '@mui/material/ListSubheader';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import { alpha } from '@mui/material/styles';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import Toolbar from '@mui/material/Toolbar';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import { lazy, Suspense, useEffect, useState } from 'react';
import LinearProgress from '@mui/material/LinearProgress';
import { LockIcon, TuneIcon } from './components/icons';
import { Logo } from './components/Logo';
import { defaultThreads } from './engine/caps';
import { hub, type BackendPref } from './engine/hub';
import { href, PAGES, useRoute, type Page } from './router';
import { useEngine } from './useEngine';

// pages load on demand: the first page needs less JavaScript
const ClassifyPage = lazy(() => import('./pages/ClassifyPage'));
const GeneratePage = lazy(() => import('./pages/GeneratePage'));
const BenchmarkPage = lazy(() => import('./pages/BenchmarkPage'));
const AboutPage = lazy(() => import('./pages/AboutPage'));

const TITLES: Record<Page, string> = { classify: 'Classify', generate: 'Generate', benchmark: 'Benchmark', about: 'About' };

function IsolationChip() {
  const { caps } = useEngine();
  if (!caps) return null;
  const threads = defaultThreads(caps);
  const label = caps.isolated ? `${threads} threads` : 'single-threaded';
  const tip = caps.isolated
    ? `This page is cross-origin isolated, so ONNX Runtime runs WebAssembly on ${threads} threads (${caps.cores} cores).`
    : 'This server does not send the COOP/COEP headers, so WebAssembly runs on one thread. Everything still works, just slower; `tinycats serve` or `vite preview` serve the app multi-threaded.';
  return (
    <Tooltip title={tip}>
      <Chip size="small" variant="outlined" color={caps.isolated ? 'success' : 'warning'} label={label} data-testid="isolation" />
    </Tooltip>
  );
}

function SettingsMenu() {
  const { backendPref, caps } = useEngine();
  const [anchor, setAnchor] = useState<HTMLElement | null>(null);
  const choose = (p: BackendPref) => {
    hub.setBackendPref(p);
    setAnchor(null);
  };
  const gpuNote = caps?.webgpu ? (caps.shaderF16 ? 'fp16 capable' : 'no shader-f16') : (caps?.gpuProblem ?? '');
  return (
    <>
      <Tooltip title="Compute backend">
        <IconButton aria-label="settings" onClick={(e) => setAnchor(e.currentTarget)} color="inherit">
          <TuneIcon />
        </IconButton>
      </Tooltip>
      <Menu anchorEl={anchor} open={Boolean(anchor)} onClose={() => setAnchor(null)}>
        <ListSubheader>Run the models with</ListSubheader>
        <MenuItem selected={backendPref === 'auto'} onClick={() => choose('auto')}>
          Automatic (WebGPU when a real GPU is there)
        </MenuItem>
        <MenuItem selected={backendPref === 'wasm'} onClick={() => choose('wasm')}>
          WebAssembly (CPU)
        </MenuItem>
        <MenuItem selected={backendPref === 'webgpu'} onClick={() => choose('webgpu')} disabled={!caps?.webgpu}>
          WebGPU {gpuNote ? `(${gpuNote})` : ''}
        </MenuItem>
      </Menu>
    </>
  );
}

export default function App() {
  const { page } = useRoute();
  useEffect(() => {
    void hub.caps();
    void hub.manifest().catch(() => {});
  }, []);
  useEffect(() => {
    document.title = `${TITLES[page]} · tinycats`;
  }, [page]);

  return (
    <Box sx={{ minHeight: '100vh', display: 'flex', flexDirection: 'column' }}>
      <AppBar
        position="sticky"
        elevation={0}
        color="inherit"
        sx={(t) => ({
          backdropFilter: 'blur(12px)',
          backgroundColor: alpha(t.palette.background.paper, 0.85),
          borderBottom: `1px solid ${alpha(t.palette.primary.main, 0.12)}`,
        })}
      >
        <Container maxWidth="lg">
          <Toolbar disableGutters sx={{ gap: 2 }}>
            <Box component="a" href={href('classify')} sx={{ display: 'flex', alignItems: 'center', gap: 1, color: 'inherit', textDecoration: 'none' }}>
              <Logo size={32} />
              <Typography variant="h6" sx={{ fontWeight: 800, letterSpacing: '-0.02em', display: { xs: 'none', sm: 'block' } }}>
                tinycats
              </Typography>
            </Box>
            <Tabs value={page} variant="scrollable" scrollButtons={false} sx={{ flex: 1, minWidth: 0 }}>
              {PAGES.map((p) => (
                <Tab key={p} value={p} label={TITLES[p]} href={href(p)} component="a" data-testid={`nav-${p}`} />
              ))}
            </Tabs>
            <IsolationChip />
            <SettingsMenu />
          </Toolbar>
        </Container>
      </AppBar>
      <Container maxWidth="lg" component="main" sx={{ py: { xs: 3, md: 5 }, flex: 1 }}>
        <Suspense fallback={<LinearProgress sx={{ mt: 4 }} aria-label="loading the page" />}>
          {page === 'classify' && <ClassifyPage />}
          {page === 'generate' && <GeneratePage />}
          {page === 'benchmark' && <BenchmarkPage />}
          {page === 'about' && <AboutPage />}
        </Suspense>
      </Container>
      <Box component="footer" sx={{ py: 3, textAlign: 'center', color: 'text.secondary' }}>
        <Typography variant="body2" sx={{ display: 'inline-flex', alignItems: 'center', gap: 0.75, px: 2 }}>
          <LockIcon sx={{ fontSize: 16 }} /> Everything runs on your device: no image is uploaded.
        </Typography>
      </Box>
    </Box>
  );
}
