"""Expected outputs of Pillow's bicubic resize for web/test/preprocess.test.ts.

The browser's resize (web/src/engine/preprocess.ts) ports Pillow's so the classifier sees the same
pixels in the browser as in Python. Run from the repo root:
    .venv/bin/python web/scripts/make_pil_golden.py
"""

import base64
import json
from pathlib import Path

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)


def b64(a: np.ndarray) -> str:
    """uint8 pixels, row-major RGB, base64."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


cases = []
for (w, h), (nw, nh) in [((23, 17), (9, 7)), ((23, 17), (40, 30)), ((96, 72), (16, 12)),
                         ((61, 45), (30, 22)), ((31, 31), (31, 12))]:
    # smooth-ish content (gradients + noise) like photos, plus hard edges
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) % 37 * 7], -1)
    img = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    out = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.BICUBIC,
                                                 reducing_gap=3.0))
    cases.append({"w": w, "h": h, "nw": nw, "nh": nh, "src": b64(img), "expected": b64(out)})
# the classifier's whole step: shorter side to 24, centre crop (tinycats.data.images.square_resize)
img = rng.integers(0, 256, (30, 44, 3), dtype=np.uint8)
sq = {"w": 44, "h": 30, "size": 24, "src": b64(img)}
try:
    from tinycats.data.images import square_resize

    sq["expected"] = b64(square_resize(Image.fromarray(img), 24))
except ImportError:  # pragma: no cover
    raise SystemExit("run with the project's .venv (tinycats installed)") from None
# undoing a nearest-neighbour enlargement (tinycats.data.unblock): blocks at several scales, a
# source with equal neighbouring rows, and images that must come back untouched
from tinycats.data.unblock import unblock  # noqa: E402

small = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
small[5] = small[4]  # two equal source rows: one run twice as long
photo = np.clip(np.mgrid[0:24, 0:30][1][..., None] * 8 + rng.normal(0, 20, (24, 30, 3)), 0, 255)
letterbox = photo.astype(np.uint8).copy()
letterbox[:8] = 0
unblocks = []
nearest = Image.Resampling.NEAREST
for name, img in [("2x", np.repeat(np.repeat(small, 2, 0), 2, 1)),
                  ("5.1x x 4.7x", Image.fromarray(small).resize((61, 47), nearest)),
                  ("2.5x x 3.1x", Image.fromarray(small).resize((30, 31), nearest)),
                  ("photo", photo.astype(np.uint8)), ("letterboxed photo", letterbox)]:
    arr = np.asarray(img, dtype=np.uint8)
    res = unblock(arr)
    unblocks.append({"name": name, "w": arr.shape[1], "h": arr.shape[0], "src": b64(arr),
                     "ew": res.shape[1], "eh": res.shape[0], "expected": b64(res)})
out = Path("web/test/fixtures/pil-resize.json")
out.write_text(json.dumps({"resize": cases, "square": sq, "unblock": unblocks},
                          separators=(",", ":")) + "\n")
print(f"wrote {out} ({out.stat().st_size} bytes)")
