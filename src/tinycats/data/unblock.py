"""Undo a nearest-neighbour enlargement: a thumbnail blown up into blocks becomes its own pixels.

People paste small images enlarged with nearest neighbour (pixel-art viewers, screenshots of a
zoomed thumbnail, cats saved as blocks). Resized again for the classifier, the block edges become
strong, false detail. Such an enlargement is lossless, so it can be undone exactly: every source
row stands as a run of identical rows, ``k`` or ``k + 1`` long for a scale between ``k`` and
``k + 1``, and the same for columns. Keeping one row and one column of each run gives the source
image back, which the classifier's bicubic resize then enlarges smoothly.

The test is strict so that photos pass through untouched: both axes must be made of such runs
(at least ``MIN_RUNS`` of them, a scale of at least 2, the regular runs covering three quarters
of the side). A photo has almost no identical neighbouring rows; a letterbox bar is one long
run, not regular ones. Two equal neighbouring source rows make one longer run; it keeps as many
rows as its length holds at the measured scale. JPEG-compressed blocks are not exact and stay
as they are. The browser runs the same integer arithmetic (web/src/engine/preprocess.ts:
unblockRGB).
"""

from __future__ import annotations

import numpy as np

#: fewer runs than this on a side is a flat image, not an enlarged one
MIN_RUNS = 8


def _runs(same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first line, length) of each run of identical lines; ``same[i]``: line i+1 == line i."""
    starts = np.flatnonzero(np.r_[True, ~same])
    return starts, np.diff(np.r_[starts, len(same) + 1])


def _lines_kept(lengths: np.ndarray) -> np.ndarray | None:
    """How many lines each run stands for, or None unless the runs are an enlargement's."""
    if len(lengths) < MIN_RUNS:
        return None
    values, counts = np.unique(lengths, return_counts=True)
    k = int(values[counts.argmax()])  # the most common run (on a tie, the shortest)
    if k < 2:
        return None
    regular = (lengths == k) | (lengths == k + 1) | ((lengths == k - 1) & (k > 2))
    a, b = int(lengths[regular].sum()), int(regular.sum())  # the scale is a / b
    if 4 * a < 3 * int(lengths.sum()) or a < 2 * b:
        return None
    return np.maximum(1, (2 * lengths * b + a) // (2 * a))  # round(length / scale), in integers


def unblock(im: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the source image if ``im`` is a nearest-neighbour enlargement, else
    ``im`` itself."""
    row_starts, row_lengths = _runs((im[1:] == im[:-1]).all(axis=(1, 2)))
    col_starts, col_lengths = _runs((im[:, 1:] == im[:, :-1]).all(axis=(0, 2)))
    rows, cols = _lines_kept(row_lengths), _lines_kept(col_lengths)
    if rows is None or cols is None:
        return im
    return im[np.repeat(row_starts, rows)][:, np.repeat(col_starts, cols)]
