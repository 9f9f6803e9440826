import { useSyncExternalStore } from 'react';
import { hub, type EngineSnapshot } from './engine/hub';

export function useEngine(): EngineSnapshot {
  return useSyncExternalStore(hub.subscribe, hub.getSnapshot);
}
