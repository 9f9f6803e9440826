"""Sampler settings of an upscaler on the first N Oxford test face crops (hand-called; PSNR dB
and FID at 128 px against the originals, the same functions as `tinycats eval upscaler`):

    CK=<run>/ema.pt TAG=tmean1 python sweep.py 300 2:1:heun 4:1:heun 6:1:heun 4:0.5:heun

Each setting is steps:shift:solver; without CK the shipped upscaler-fp32.onnx is read back with
configs/upscaler.yaml. Writes sweep-<TAG>-<N>.json beside the current folder."""
import json
import os
import sys
import time
from pathlib import Path

from tinycats.cli.upscaler_cmds import _from_export
from tinycats.generator.evaluate import Inception
from tinycats.upscaler.evaluate import (UpEvalConfig, bicubic_upscale, fid, half_size,
                                        held_out_faces, model_upscale, psnr)
from tinycats.upscaler.train import load_upscaler

root = Path(os.environ.get("TINYCATS_DATA", "~/.cache/tinycats")).expanduser()
ck, tag = os.environ.get("CK"), os.environ.get("TAG", "shipped")
model, _ = (load_upscaler(Path(ck)) if ck else
            _from_export(Path("web/public/models/upscaler-fp32.onnx"), Path("configs/upscaler.yaml")))
limit = int(sys.argv[1])
orig = held_out_faces(root, 128, 1.8)[0][:limit]
inc = Inception()
ref, small = inc.features(orig), half_size(orig)
b = bicubic_upscale(small)
out = {"bicubic": (psnr(b, orig), fid(inc.features(b), ref))}
print("bicubic", out["bicubic"], flush=True)
for spec in sys.argv[2:]:
    steps, shift, solver = spec.split(":")
    t0 = time.time()
    im = model_upscale(model, small, UpEvalConfig(steps=int(steps), s=0.0, solver=solver,
                                                  shift=float(shift)), None)
    out[spec] = (round(psnr(im, orig), 2), round(fid(inc.features(im), ref), 2))
    print(spec, out[spec], f"{time.time() - t0:.0f}s", flush=True)
Path(f"sweep-{tag}-{limit}.json").write_text(json.dumps(out, indent=1) + "\n")
