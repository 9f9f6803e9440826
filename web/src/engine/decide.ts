// The classifier's decision (docs/manifest.md, "Classifier decision"): the label is `other` when
// P(other) >= other_threshold, else the most probable breed, not a plain argmax over all labels
// (a cat whose probability is split over similar breeds is still a cat). The other labels follow
// by probability. Without a threshold in the manifest: plain argmax.
//
// The answer is "unsure" when the decided label's probability is under the manifest's
// `unsure_below` (the probabilities are calibrated inside the graph, so the threshold means what
// it says); the app then shows the most probable labels instead of one answer. Without the field,
// never unsure. The same rule as the CLI's (tinycats.runtime.classify.unsure).

import type { ClassifierEntry } from './manifest';

/** How many labels an unsure answer offers. */
export const UNSURE_CANDIDATES = 3;

export interface Decision {
  /** the label id the image gets */
  top: number;
  isOther: boolean;
  /** all label ids: `top` first, then by probability */
  ranked: number[];
  /** the probability of `top` is under the manifest's `unsure_below`: do not present one answer */
  unsure: boolean;
  /** the UNSURE_CANDIDATES most probable label ids, best first: what an unsure answer shows */
  candidates: number[];
}

export type DecisionRule = Pick<ClassifierEntry, 'other_id' | 'other_threshold' | 'unsure_below'>;

export function decide(probs: ArrayLike<number>, entry: DecisionRule): Decision {
  const ids = Array.from({ length: probs.length }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]!);
  let top = ids[0]!;
  if (entry.other_threshold !== undefined) {
    // float32, as for `unsure_below` below: the threshold as the CLI's NumPy compares it
    top = Math.fround(probs[entry.other_id]!) >= Math.fround(entry.other_threshold) ? entry.other_id : ids.find((i) => i !== entry.other_id)!;
  }
  return {
    top,
    isOther: top === entry.other_id,
    ranked: [top, ...ids.filter((i) => i !== top)],
    unsure: isUnsure(probs[top]!, entry.unsure_below),
    candidates: ids.slice(0, UNSURE_CANDIDATES),
  };
}

/**
 * Strictly under the threshold: a probability exactly at `unsure_below` is a confident answer.
 * Compared in float32, the precision of the model's output, as the CLI does (NumPy compares a
 * float32 array with a threshold rounded to float32): else a probability that prints as 0.7
 * (0.69999998 in float32) would be unsure here against 0.7 and confident there.
 */
function isUnsure(p: number, unsureBelow: number | undefined): boolean {
  return unsureBelow !== undefined && Math.fround(p) < Math.fround(unsureBelow);
}
