"""Average the weights of several generator EMA checkpoints (ema.pt files, or an exported
generator-fp32.onnx) of one run into one ema.pt: an experiment, not part of tinycats.

    python average_weights.py <out.pt> <a.pt|a.onnx> <b.pt> ...

Then `tinycats export generator --checkpoint <out.pt> --out <copy of the models folder>
--variants fp32` and `tinycats eval generator --model-dir <copy> ...`.
"""

import sys
from pathlib import Path

import torch

from tinycats.generator.config import config_from_checkpoint
from tinycats.generator.warm_start import load_init_state

out, sources = Path(sys.argv[1]), sys.argv[2:]
first_pt = next(s for s in sources if s.endswith(".pt"))
base = torch.load(first_pt, map_location="cpu", weights_only=False)
model_cfg = config_from_checkpoint(base["config"]).model
states = [load_init_state(Path(s), model_cfg) for s in sources]  # .onnx or ema.pt alike
base["model"] = {k: sum(s[k].float() for s in states) / len(states) for k in states[0]}
base["step"] = -1  # not one step of the run
torch.save(base, out)
print(f"{out}: the mean of {len(states)} checkpoints")
