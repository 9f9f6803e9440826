"""TinyDiT: a Diffusion Transformer in pixel space, readable top to bottom.

Follows facebookresearch/DiT: patchify -> linear patch embedding + fixed 2D sin-cos position
embedding -> N transformer blocks modulated by adaLN-Zero from (timestep embedding + class
embedding) -> final adaLN layer -> linear -> unpatchify.

Class conditioning takes a batch of class *weights* ``y`` (B, num_classes): a one-hot row is an
ordinary class, the ``null`` row is the unconditional class for classifier-free guidance, and a
convex mix of rows interpolates the class embedding between breeds (``tinycats generate --mix``).
The embedding is ``y @ table``, so with one-hot rows it is exactly an embedding lookup.

Attention is written out with matmul + softmax (not a fused kernel) so the ONNX graph is plain
and runs the same in onnxruntime and onnxruntime-web.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from tinycats.breeds import NUM_GENERATOR_CLASSES


@dataclass
class DiTConfig:
    image_size: int = 64
    patch_size: int = 8
    channels: int = 3
    width: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    num_classes: int = NUM_GENERATOR_CLASSES  # includes the null row
    #: a small residual 3x3 conv stack after unpatchify (as in U-ViT) that smooths the seams
    #: between patches; its last layer starts at zero, so it begins as the identity.
    final_conv: bool = False

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * self.channels


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/p * W/p, p*p*C); tokens in row-major order of the patch grid."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # B, gh, gw, p, p, C
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(tokens: torch.Tensor, p: int, c: int, grid: int) -> torch.Tensor:
    """Exact inverse of ``patchify``: (B, grid*grid, p*p*C) -> (B, C, grid*p, grid*p)."""
    b = tokens.shape[0]
    x = tokens.reshape(b, grid, grid, p, p, c)
    x = x.permute(0, 5, 1, 3, 2, 4)  # B, C, gh, p, gw, p
    return x.reshape(b, c, grid * p, grid * p)


def sincos_pos_embed_2d(dim: int, grid: int) -> torch.Tensor:
    """Fixed 2D sin-cos position embedding (grid*grid, dim): half the channels for rows, half
    for columns, as in MAE/DiT."""
    assert dim % 4 == 0, "width must be divisible by 4 for 2D sin-cos embedding"

    def one_axis(pos: torch.Tensor, d: int) -> torch.Tensor:
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2))
        out = pos.reshape(-1, 1).double() * omega.reshape(1, -1)
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)

    ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    emb = torch.cat([one_axis(ys, dim // 2), one_axis(xs, dim // 2)], dim=1)
    return emb.float()


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled by 1000 inside, in this one place only)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                          device=t.device) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        hd = d // self.heads
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax((q @ k.transpose(-2, -1)) * (hd**-0.5), dim=-1)
        out = (att @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-Zero: the conditioning predicts shift, scale and a
    gate for each branch; the gate's projection starts at zero so a fresh block is the identity."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=-1)
        x = x + g1.unsqueeze(1) * self.attn(modulate(self.norm1(x), sh1, sc1))
        x = x + g2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), sh2, sc2))
        return x


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, out_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class TinyDiT(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.patch_embed = nn.Linear(cfg.patch_dim, d)
        self.register_buffer("pos_embed", sincos_pos_embed_2d(d, cfg.grid)[None],
                             persistent=False)
        self.t_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        # One row per generator class, the null class included (its row is learned).
        self.class_table = nn.Parameter(torch.randn(cfg.num_classes, d) * 0.02)
        self.blocks = nn.ModuleList(DiTBlock(d, cfg.heads, cfg.mlp_ratio)
                                    for _ in range(cfg.depth))
        self.final = FinalLayer(d, cfg.patch_dim)
        self.refine: nn.Sequential | None = None
        if cfg.final_conv:
            self.refine = nn.Sequential(
                nn.Conv2d(cfg.channels, 32, 3, padding=1), nn.GELU(approximate="tanh"),
                nn.Conv2d(32, cfg.channels, 3, padding=1))
        self._init_weights()

    def _init_weights(self) -> None:
        def basic(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        self.apply(basic)
        for lin in (self.t_mlp[0], self.t_mlp[2]):
            nn.init.normal_(cast(nn.Linear, lin).weight, std=0.02)
        # adaLN-Zero: modulation outputs start at zero -> gates 0 -> every block is identity.
        zero = [cast(nn.Linear, cast(DiTBlock, blk).ada[1]) for blk in self.blocks]
        zero += [cast(nn.Linear, self.final.ada[1]), self.final.linear]
        for lin in zero:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        if self.refine is not None:
            last = cast(nn.Conv2d, self.refine[2])
            assert last.bias is not None
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def condition(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Conditioning vector: timestep embedding + class embedding (y: class weights)."""
        t_emb = self.t_mlp(timestep_embedding(t, self.cfg.width))
        return t_emb + y.to(self.class_table.dtype) @ self.class_table

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) noisy images; t: (B,) in [0, 1]; y: (B, num_classes) class weights.
        Returns the network output in image layout (x- or v-prediction, see flow.py)."""
        cfg = self.cfg
        c = self.condition(t, y)  # (B, D)
        h = self.patch_embed(patchify(x, cfg.patch_size)) + self.pos_embed  # (B, grid^2, D)
        for blk in self.blocks:
            h = blk(h, c)
        out = unpatchify(self.final(h, c), cfg.patch_size, cfg.channels, cfg.grid)  # like x
        if self.refine is not None:
            out = out + self.refine(out)
        return out


def one_hot(labels: torch.Tensor, num_classes: int = NUM_GENERATOR_CLASSES) -> torch.Tensor:
    return F.one_hot(labels.long(), num_classes).float()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
