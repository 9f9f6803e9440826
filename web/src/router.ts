// Hash routing (#/generate?breed=siamese&seed=7): works on any static host, and the query part
// carries the settings so a link reproduces an image.
import { useCallback, useSyncExternalStore } from 'react';

export const PAGES = ['classify', 'generate', 'benchmark', 'about'] as const;
export type Page = (typeof PAGES)[number];

export interface Route {
  page: Page;
  params: URLSearchParams;
}

function parse(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = h.split('?', 2);
  const page = (PAGES as readonly string[]).includes(path) ? (path as Page) : 'classify';
  return { page, params: new URLSearchParams(query) };
}

let current = parse(location.hash);
const listeners = new Set<() => void>();
window.addEventListener('hashchange', () => {
  current = parse(location.hash);
  for (const l of listeners) l();
});

function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function href(page: Page, params?: URLSearchParams | Record<string, string>): string {
  const q = params ? new URLSearchParams(params).toString() : '';
  return `#/${page}${q ? `?${q}` : ''}`;
}

export function useRoute(): Route {
  return useSyncExternalStore(subscribe, () => current);
}

/** Replace the query of the current page without adding a history entry. */
export function useReplaceParams(): (params: Record<string, string>) => void {
  return useCallback((params) => {
    const next = href(current.page, params);
    if (next !== location.hash) {
      history.replaceState(null, '', next);
      current = parse(next);
      for (const l of listeners) l();
    }
  }, []);
}
