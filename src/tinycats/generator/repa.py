"""Representation alignment (REPA) for the generator: an optional training-only loss.

Why: the generator learns colour and fur long before it learns cat anatomy, and on this
project's CPUs it never sees enough images to get there (reports/generator-training.md). REPA
("Representation Alignment for Generation", Yu et al., 2024) adds one term to the flow-matching
loss: the hidden tokens of an early DiT block, passed through a small MLP (the projector),
should have a high cosine similarity with a frozen pretrained image encoder's features of the
*clean* image at the same grid position. The paper reports diffusion transformers reaching a
given quality many times sooner with it; the encoder brings the structure the generator would
otherwise have to discover from ~1,200 photos.

The encoder here is the ImageNet EfficientNet-Lite2 from its PyPI package (no download), not
the shipped breed classifier (a fine-tuned Lite0): the classifier judges breed accuracy, so it
must not also be the generator's teacher. Its stride-16 features (block ``encoder_block``) of
the 64 px training image upscaled to ``encoder_input`` px form a grid the size of the DiT's
patch grid (128 px -> 8x8 for patch 8). They are computed once per training image and cached
on disk (keyed by the images' bytes and the settings); a horizontally flipped image takes the
mirrored token grid. The projector is not part of TinyDiT: it is trained, checkpointed and then
dropped, so the exported model is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tinycats.config import ConfigError
from tinycats.data.augment import MEAN, SCALE, STD

#: bump when the way features are computed changes (invalidates cached features)
FEATURE_VERSION = 1


@dataclass
class RepaConfig:
    #: weight of the alignment term in the loss; 0 disables REPA (the default)
    weight: float = 0.0
    #: the DiT block whose output is aligned (1-based: 3 = after the third block)
    layer: int = 3
    encoder: str = "lite2"
    #: the encoder block (0-based) whose output is the target, and the encoder's input side
    encoder_block: int = 14
    encoder_input: int = 128
    proj_hidden: int = 512


class Projector(nn.Module):
    """DiT width -> encoder channels, per token (an MLP, as in REPA)."""

    def __init__(self, width: int, out_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, out_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class AlignedDiT(nn.Module):
    """TinyDiT + projector for training: ``forward`` returns (network output, projected hidden
    tokens of block ``layer``). One module, so ``torch.compile`` sees both."""

    def __init__(self, dit: nn.Module, projector: Projector, layer: int) -> None:
        super().__init__()
        self.dit = dit
        self.projector = projector
        self.layer = layer

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        out, hidden = self.dit.forward_with_hidden(x, t, y, self.layer)  # type: ignore[operator]
        return out, self.projector(hidden)


def alignment_loss(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample 1 - mean cosine similarity over tokens: (B, T, C) x (B, T, C) -> (B,)."""
    cos = F.cosine_similarity(z.float(), target.float(), dim=-1)
    return 1.0 - cos.mean(dim=1)


def flip_tokens(tokens: torch.Tensor, grid: int) -> torch.Tensor:
    """The token grid of a horizontally mirrored image: (B, grid*grid, C), row-major."""
    b, _, c = tokens.shape
    return tokens.reshape(b, grid, grid, c).flip(2).reshape(b, grid * grid, c)


def load_encoder(cfg: RepaConfig) -> nn.Module:
    from tinycats.classifier.model import load_imagenet

    model = load_imagenet(cfg.encoder).eval()
    if not 0 <= cfg.encoder_block < len(model.blocks):
        raise ConfigError(f"repa.encoder_block {cfg.encoder_block} is outside {cfg.encoder}'s "
                         f"{len(model.blocks)} blocks")
    return model


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, cfg: RepaConfig, grid: int
           ) -> torch.Tensor:
    """uint8 images (B, 3, S, S) -> encoder tokens (B, grid*grid, C) in float32."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x = (images.float() / SCALE - mean) / std
    x = F.interpolate(x, size=(cfg.encoder_input, cfg.encoder_input), mode="bilinear",
                      align_corners=False, antialias=False)
    h = encoder.stem(x)  # type: ignore[operator]
    for blk in encoder.blocks[: cfg.encoder_block + 1]:  # type: ignore[index]
        h = blk(h)
    if h.shape[-1] != grid:  # a different input size: pool/resample onto the DiT's grid
        h = F.adaptive_avg_pool2d(h, grid)
    return h.flatten(2).transpose(1, 2).contiguous()


def features_for(images: torch.Tensor, cfg: RepaConfig, grid: int, cache_dir: Path | None,
                 progress: Callable[[int], None] | None = None, batch: int = 64
                 ) -> torch.Tensor:
    """Encoder tokens (N, grid*grid, C) as float16 for uint8 ``images`` (N, 3, S, S), read
    from ``cache_dir`` when these exact images were encoded with these settings before.
    ``progress`` is called with the number of images each encoder batch finished."""
    key = hashlib.sha256()
    key.update(f"v{FEATURE_VERSION} {cfg.encoder} {cfg.encoder_block} {cfg.encoder_input} "
               f"{grid} {tuple(images.shape)}".encode())
    key.update(images.contiguous().numpy().tobytes())
    path = None if cache_dir is None else cache_dir / f"{key.hexdigest()[:24]}.pt"
    if path is not None and path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception:  # a damaged cache file is rebuilt, never trusted
            path.unlink()
    encoder = load_encoder(cfg)
    parts = []
    n = images.shape[0]
    for i in range(0, n, batch):
        parts.append(encode(encoder, images[i: i + batch], cfg, grid).half())
        if progress is not None:
            progress(min(batch, n - i))
    feats = torch.cat(parts) if parts else torch.zeros(0, grid * grid, 0, dtype=torch.half)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(feats, tmp)
        tmp.replace(path)
    return feats
