"""The upscaler network: a small convolutional U-Net that denoises a 2x image given its half-size
condition (cascaded diffusion / SR3), readable top to bottom.

Input: x_t at S px and the S/2 px condition, upsampled bicubically to S inside the network and
concatenated (6 channels), then pixel-unshuffled by 2 (S x S x 6 -> S/2 x S/2 x 24): every conv
runs at half resolution or below, which is what keeps a 128 px model near 2 GFLOP per call.
Levels of plain 3x3 convs (no depthwise convs: onnxruntime-web's WASM build runs them slowly),
GroupNorm and SiLU; strided convs down, nearest upsampling up, one skip concatenation per level.

Conditioning: t (flow time) and s (the noise level added to the condition, cascaded diffusion's
noise-conditioning augmentation), each as a sinusoidal embedding -> one MLP -> per-block FiLM
scale/shift. No breed input: the breed is already in the 64 px cat, and a breed input,
measured, moved no figure (docs/history.md, "Upscaler"). The last conv of every residual block
starts at zero (a fresh block is its skip path) and so does the output conv, on top of a global
skip from the upsampled condition: the untouched network predicts the bicubic upsampling,
training learns the detail. The output is x_hat (the clean image), like the base generator's
``prediction: x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from tinycats.generator.dit import timestep_embedding
from tinycats.generator.flow import Denoiser


@dataclass
class UNetConfig:
    #: side of the output (and of x_t); the condition is image_size // 2
    image_size: int = 128
    channels: int = 3
    #: channels per level; level 0 runs at image_size / 2 (after the pixel-unshuffle), each next
    #: level at half the previous one's side
    widths: list[int] = field(default_factory=lambda: [40, 80, 160])
    #: residual blocks per level on the way down and on the way up (except the lowest level)
    blocks: int = 1
    #: residual blocks at the lowest level
    mid_blocks: int = 2
    emb_dim: int = 128
    groups: int = 8


def zero_init(conv: nn.Conv2d) -> None:
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv -> GroupNorm -> FiLM(c) -> SiLU -> conv (zero-init), plus a
    skip (1x1 conv when the width changes). Zero-init: a fresh block returns its skip path."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip: nn.Module = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        zero_init(self.conv2)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(c)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class Upsample(nn.Module):
    """x2 nearest, then a 1x1 conv to the finer level's width (done before the resize, where it
    costs a quarter): the residual block after it does the spatial mixing."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.proj(x), scale_factor=2.0, mode="nearest")


class DownLevel(nn.Module):
    """Residual blocks at one resolution, then a strided conv to the next (half the side)."""

    def __init__(self, c: int, c_next: int, blocks: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(c, c, emb_dim, groups) for _ in range(blocks))
        self.down = nn.Conv2d(c, c_next, 3, stride=2, padding=1)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (the skip kept for the way up, the downsampled features)."""
        for blk in self.blocks:
            h = blk(h, c)
        return h, self.down(h)


class UpLevel(nn.Module):
    """Upsample, concatenate the level's skip, residual blocks (the first one merges the two)."""

    def __init__(self, c_below: int, c: int, blocks: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.up = Upsample(c_below, c)
        self.blocks = nn.ModuleList(ResBlock(2 * c if i == 0 else c, c, emb_dim, groups)
                                    for i in range(max(blocks, 1)))

    def forward(self, h: torch.Tensor, skip: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.up(h), skip], dim=1)
        for blk in self.blocks:
            h = blk(h, c)
        return h


class UpscalerUNet(nn.Module):
    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, e, g, n = cfg.widths, cfg.emb_dim, cfg.groups, len(cfg.widths)
        self.emb_mlp = nn.Sequential(nn.Linear(2 * e, e), nn.SiLU(), nn.Linear(e, e))
        # x_t and the upsampled condition, each C channels, pixel-unshuffled by 2: 8C channels
        self.stem = nn.Conv2d(8 * cfg.channels, w[0], 3, padding=1)
        self.down = nn.ModuleList(DownLevel(w[i], w[i + 1], cfg.blocks, e, g)
                                  for i in range(n - 1))
        self.mid = nn.ModuleList(ResBlock(w[-1], w[-1], e, g) for _ in range(cfg.mid_blocks))
        self.up = nn.ModuleList(UpLevel(w[i + 1], w[i], cfg.blocks, e, g)
                                for i in reversed(range(n - 1)))
        self.out_norm = nn.GroupNorm(min(g, w[0]), w[0])
        self.out = nn.Conv2d(w[0], 4 * cfg.channels, 3, padding=1)
        zero_init(self.out)

    def condition(self, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """(B, emb_dim): MLP of the sinusoidal embeddings of t and s."""
        e = self.cfg.emb_dim
        return self.emb_mlp(torch.cat([timestep_embedding(t, e), timestep_embedding(s, e)],
                                      dim=1))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, s: torch.Tensor
                ) -> torch.Tensor:
        """x_t: (B, C, S, S) noisy image; t, s: (B,) flow time and condition noise level;
        cond: (B, C, S/2, S/2) condition in [-1, 1] (noised at level s). Returns x_hat
        (B, C, S, S)."""
        c = self.condition(t, s)
        base = F.interpolate(cond, scale_factor=2.0, mode="bicubic", align_corners=False)
        h = self.stem(F.pixel_unshuffle(torch.cat([x_t, base], dim=1), 2))  # B, w0, S/2, S/2
        skips = []
        for down in self.down:
            skip, h = down(h, c)  # h: half the side, the next level's width
            skips.append(skip)
        for blk in self.mid:
            h = blk(h, c)
        for up in self.up:
            h = up(h, skips.pop(), c)  # twice the side, the finer level's width
        detail = F.pixel_shuffle(self.out(F.silu(self.out_norm(h))), 2)  # B, C, S, S
        return base + detail


def flops_per_call(model: UpscalerUNet, batch: int = 1) -> float:
    """FLOPs of one forward pass at ``batch``, counted by torch's FlopCounterMode (matmuls and
    convs, as training/flops.py counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg, s = model.cfg, model.cfg.image_size
    args = (torch.zeros(batch, cfg.channels, s, s), torch.full((batch,), 0.5),
            torch.zeros(batch, cfg.channels, s // 2, s // 2), torch.zeros(batch))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*args)
    return float(counter.get_total_flops())


def as_denoiser(model: UpscalerUNet, cond: torch.Tensor, s: torch.Tensor) -> Denoiser:
    """The upscaler as flow.py's denoiser ``(x_t, t, y)``: the condition and its noise level
    bound. The upscaler takes no class weights, so ``y`` (an empty (B, 0) tensor from its
    callers, which sample without guidance) is not read."""
    def denoise(x_t: torch.Tensor, t: torch.Tensor, _y: torch.Tensor) -> torch.Tensor:
        return model(x_t, t, cond, s)

    return denoise
