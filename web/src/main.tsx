// Entry point. It starts the models of the first page (worker, onnxruntime, model bytes from
// the cache) before React and MUI are even downloaded, then loads the app (root.tsx): on a
// 2-core machine the page is ready about as soon as the page's own model is.
import { hub } from './engine/hub';

const [first = 'classify', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
if (first === 'classify' || first === '') void hub.ensure('classifier').catch(() => {});
if (first === 'generate') {
  // only the generator: the classifier (the badges) starts once the generator is ready, so the two
  // sessions do not compete for the same cores (GeneratePage)
  const variant = new URLSearchParams(query).get('variant');
  void hub.ensure('generator', variant ? { variant } : {}).catch(() => {});
}

void import('./root');
