// Entry point. It starts the models of the first page (worker, onnxruntime, model bytes from
// the cache) before React and MUI are even downloaded, then loads the app (root.tsx): on a
// 2-core machine the page is ready about as soon as the page's own model is.
import { hub } from './engine/hub';

const [first = 'classify', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
let firstModel: Promise<unknown> = Promise.resolve();
if (first === 'classify' || first === '') firstModel = hub.ensure('classifier');
if (first === 'generate') {
  // only the generator: the classifier (the badges) starts once the generator is ready, so the two
  // sessions do not compete for the same cores (GeneratePage)
  const variant = new URLSearchParams(query).get('variant');
  firstModel = hub.ensure('generator', variant ? { variant } : {});
}
firstModel = firstModel.catch(() => {});

void import('./root');

// offline use (vite.config.ts, offlinePlugin; sw/sw.js): registered once the page has loaded and
// its model is ready, so storing the app's files does not compete with the page's own start
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  addEventListener('load', () => {
    void firstModel.then(() =>
      navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`).catch(() => {
        /* no offline use (e.g. a private window): the app works as before */
      }),
    );
  });
}
