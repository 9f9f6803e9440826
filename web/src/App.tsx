import AppBar from '@mui/material/AppBar';
import BottomNavigation from '@mui/material/BottomNavigation';
import BottomNavigationAction from '@mui/material/BottomNavigationAction';
import Box from '@mui/material/Box';
import ButtonBase from '@mui/material/ButtonBase';
import Chip from '@mui/material/Chip';
import Container from '@mui/material/Container';
import IconButton from '@mui/material/IconButton';
import ListSubheader from '@mui/material/ListSubheader';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import { alpha } from '@mui/material/styles';
import Toolbar from '@mui/material/Toolbar';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import { lazy, Suspense, useEffect, useState } from 'react';
import LinearProgress from '@mui/material/LinearProgress';
import Paper from '@mui/material/Paper';
import { AutoAwesomeIcon, InfoOutlinedIcon, LockIcon, PetsIcon, SpeedIcon, TuneIcon } from './components/icons';
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
const ICONS: Record<Page, typeof PetsIcon> = { classify: PetsIcon, generate: AutoAwesomeIcon, benchmark: SpeedIcon, about: InfoOutlinedIcon };

/** Below this width the pages are a bottom navigation bar instead of tabs in the top bar. */
const WIDE = 'md';

/** Small screens: the four pages as a bar at the bottom, always fully visible (360 px and up). */
function BottomNav({ page }: { page: Page }) {
  return (
    <Paper
      component="nav"
      aria-label="Pages"
      elevation={8}
      square
      sx={{ position: 'fixed', left: 0, right: 0, bottom: 0, zIndex: (t) => t.zIndex.appBar, display: { xs: 'block', [WIDE]: 'none' }, pb: 'env(safe-area-inset-bottom)' }}
      data-testid="bottom-nav"
    >
      <BottomNavigation value={page} showLabels>
        {PAGES.map((p) => {
          const Icon = ICONS[p];
          return (
            <BottomNavigationAction
              key={p}
              value={p}
              label={TITLES[p]}
              icon={<Icon />}
              component="a"
              href={href(p)}
              aria-current={p === page ? 'page' : undefined}
              data-testid={`bottom-nav-${p}`}
              sx={{ minWidth: 0, px: 0.5 }}
            />
          );
        })}
      </BottomNavigation>
    </Paper>
  );
}

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
    <Box sx={{ minHeight: '100vh', display: 'flex', flexDirection: 'column', pb: { xs: 'calc(56px + env(safe-area-inset-bottom))', [WIDE]: 0 } }}>
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
            <Box component="a" href={href('classify')} aria-label="tinycats: home" sx={{ display: 'flex', alignItems: 'center', gap: 1, color: 'inherit', textDecoration: 'none' }}>
              <Logo size={32} />
              <Typography variant="h6" component="span" sx={{ fontWeight: 800, letterSpacing: '-0.02em', display: { xs: 'none', sm: 'block' } }}>
                tinycats
              </Typography>
            </Box>
            <Box component="nav" aria-label="Pages" sx={{ flex: 1, minWidth: 0, display: { xs: 'none', [WIDE]: 'block' } }}>
              <Box component="ul" sx={{ display: 'flex', listStyle: 'none', m: 0, p: 0 }}>
                {PAGES.map((p) => (
                  <li key={p}>
                    <ButtonBase
                      component="a"
                      href={href(p)}
                      aria-current={p === page ? 'page' : undefined}
                      data-testid={`nav-${p}`}
                      sx={(t) => ({
                        minHeight: 56,
                        px: 2,
                        fontWeight: 600,
                        fontSize: t.typography.button.fontSize,
                        color: p === page ? 'primary.main' : 'text.secondary',
                        borderBottom: '2px solid',
                        borderColor: p === page ? 'primary.main' : 'transparent',
                        '&:hover': { color: 'text.primary', bgcolor: alpha(t.palette.primary.main, 0.04) },
                      })}
                    >
                      {TITLES[p]}
                    </ButtonBase>
                  </li>
                ))}
              </Box>
            </Box>
            <Box sx={{ flex: 1, display: { xs: 'block', [WIDE]: 'none' } }} />
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
      <BottomNav page={page} />
    </Box>
  );
}
