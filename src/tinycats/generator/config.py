"""Generator recipe (configs/generator-*.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinycats.config import ConfigError, from_dict
from tinycats.generator.crops import Crop, Views
from tinycats.generator.dit import DiTConfig
from tinycats.training.config import TrainLoopConfig


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
    #: random resized crops from the photos, against memorisation (face crops only;
    #: generator/crops.py: ``Views``): each labelled photo as ``crop_views`` framings, the
    #: margin scaled by up to ``1 + view_zoom`` either way and the centre moved by up to
    #: ``view_shift`` x the side, each batch drawing one at random. 0: the face crop only.
    crop_views: int = 0
    view_zoom: float = 0.1
    view_shift: float = 0.05

    def crop_spec(self) -> Crop:
        return Crop(self.crop, self.face_margin)

    def views_spec(self) -> Views | None:
        if self.crop_views < 0:
            raise ConfigError(f"data.crop_views must be 0 or more, not {self.crop_views}")
        return Views(self.crop_views, self.view_zoom, self.view_shift) if self.crop_views else None


@dataclass
class GenTrainConfig(TrainLoopConfig):
    micro_batch: int | None = None  # per-process micro-batch; None: the whole local batch
    #: every this many steps, the share of near-copies among ``track_samples`` EMA samples
    #: (generator/near_copies.py) goes into metrics.jsonl and the log; 0: never
    track_every: int = 0
    track_samples: int = 96
    #: also keep the EMA weights of each measurement (``ema-step<N>.pt``), to export the last
    #: one before a run starts copying its crops
    keep_tracked_ema: bool = False


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
