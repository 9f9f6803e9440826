"""Generator recipe (configs/generator-*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinycats.config import ConfigError, from_dict
from tinycats.generator.crops import Crop
from tinycats.generator.dit import DiTConfig


@dataclass
class GenDataConfig:
    size: int = 64
    #: Oxford splits the generator learns from; the test split stays held out for FID.
    splits: list[str] = field(default_factory=lambda: ["train", "val"])
    #: share of each batch drawn from the unlabeled cat faces (class ``any_cat``); 0 disables.
    any_cat_fraction: float = 0.2
    #: cap on unlabeled images loaded (keeps a carried GPU cache small); None: all.
    any_cat_limit: int | None = None
    hflip: bool = True
    #: breed-keeping geometric jitter against memorisation (generator/data.py: jitter): with
    #: probability ``jitter_p`` an image is zoomed in by up to ``zoom_max``, turned by up to
    #: ``rotate_deg`` and shifted by up to ``shift_px`` pixels. No colour jitter: colour is the
    #: breed. 0 switches it off.
    jitter_p: float = 0.0
    zoom_max: float = 1.12
    rotate_deg: float = 8.0
    shift_px: float = 3.0
    #: how a breed photo becomes a square: "centre" (the prepared cache's centre crop) or "face"
    #: (``face_margin`` x the detected cat face: generator/crops.py, generator/face_crops.py;
    #: photos without a face are left out). The FID reference is prepared the same way.
    crop: str = "centre"
    face_margin: float = 1.8

    def crop_spec(self) -> Crop:
        return Crop(self.crop, self.face_margin)


@dataclass
class GenTrainConfig:
    batch_size: int = 64  # global batch
    micro_batch: int | None = None  # per-process micro-batch; None: the whole local batch
    steps: int = 3000
    lr: float = 3e-4
    warmup: int = 200
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    max_minutes: float | None = None  # stop (with a checkpoint) after this wall time
    #: size the schedule to this many minutes of wall time instead of ``steps``: the run times
    #: ``budget_calibration_steps`` steps (after as many unmeasured ones: compiling, warm
    #: caches), then fixes the step count (kept in the checkpoint) so that warmup + cosine end
    #: within the budget on whatever machine runs it. None: ``steps`` as written.
    budget_minutes: float | None = None
    budget_calibration_steps: int = 25
    ckpt_every: int = 250
    sample_every: int = 500
    log_every: int = 25
    threads: int | None = None  # torch CPU threads; None: torch's default
    bf16: bool = True  # bf16 autocast on CUDA
    #: bf16 autocast on a CPU with native bf16 (see training/precision.py); fp32 elsewhere
    cpu_bf16: bool = False
    compile: bool = False


@dataclass
class SamplerDefaults:
    steps: int = 20
    cfg_scale: float = 3.0
    solver: str = "heun"
    shift: float = 1.0


@dataclass
class GeneratorConfig:
    name: str = "generator"
    model: DiTConfig = field(default_factory=DiTConfig)
    prediction: str = "x"  # "x" (clean image) or "v" (velocity)
    t_sampling: str = "logit_normal"
    t_mean: float = 0.0
    t_std: float = 1.0
    p_uncond: float = 0.1  # label -> null dropout for classifier-free guidance
    data: GenDataConfig = field(default_factory=GenDataConfig)
    train: GenTrainConfig = field(default_factory=GenTrainConfig)
    sampler: SamplerDefaults = field(default_factory=SamplerDefaults)


#: settings of removed experiments that older checkpoints still carry: representation
#: alignment (a training-only loss; the model it trained is a plain TinyDiT) and the fine stage
RETIRED_MODEL_KEYS = ("fine_depth", "fine_width", "fine_heads")


def config_from_checkpoint(saved: dict[str, Any]) -> GeneratorConfig:
    """The recipe a checkpoint stores, read without the settings of removed experiments."""
    d = {k: v for k, v in saved.items() if k != "repa"}
    if isinstance(d.get("model"), dict):
        if d["model"].get("fine_depth"):
            raise ConfigError("the checkpoint's model has a fine stage (model.fine_depth > 0), "
                              "which this tinycats no longer builds")
        d["model"] = {k: v for k, v in d["model"].items() if k not in RETIRED_MODEL_KEYS}
    if isinstance(d.get("data"), dict):  # the retired CAM crop's zoom; a "cam" crop is refused
        d["data"] = {k: v for k, v in d["data"].items() if k != "cam_zoom"}
    return from_dict(GeneratorConfig, d)
