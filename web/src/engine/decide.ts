// The classifier's decision (docs/manifest.md, "Classifier decision"): the label is `other` when
// P(other) >= other_threshold, else the most probable breed, not a plain argmax over all labels
// (a cat whose probability is split over similar breeds is still a cat). The other labels follow
// by probability. Without a threshold in the manifest: plain argmax.

import type { ClassifierEntry } from './manifest';

export interface Decision {
  /** the label id the image gets */
  top: number;
  isOther: boolean;
  /** all label ids: `top` first, then by probability */
  ranked: number[];
}

export function decide(probs: ArrayLike<number>, entry: Pick<ClassifierEntry, 'other_id' | 'other_threshold'>): Decision {
  const ids = Array.from({ length: probs.length }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]!);
  let top = ids[0]!;
  if (entry.other_threshold !== undefined) {
    top = probs[entry.other_id]! >= entry.other_threshold ? entry.other_id : ids.find((i) => i !== entry.other_id)!;
  }
  return { top, isOther: top === entry.other_id, ranked: [top, ...ids.filter((i) => i !== top)] };
}
