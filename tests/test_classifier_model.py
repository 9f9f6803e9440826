"""EfficientNet-Lite: the pretrained weights are wired right (every key mapped, ImageNet head
puts real cat photos in ImageNet's cat classes), the CAM means what it says, and the
augmentation is deterministic and does what its name says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tinycats.breeds import NUM_CLASSIFIER_LABELS, breed_from_oxford_name
from tinycats.classifier.model import (
    EfficientNetLite,
    WeightMappingError,
    build_classifier,
    load_imagenet,
    map_pretrained_key,
    map_pretrained_keys,
    pretrained_path,
)
from tinycats.data import augment as aug
from tinycats.data.images import load_square

IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def imagenet_lite0() -> EfficientNetLite:
    return load_imagenet("lite0").eval()


def fixture_images(root: Path, size: int, cats: bool) -> tuple[np.ndarray, list[str]]:
    files = sorted((root / "images").glob("*.jpg"))
    files = [f for f in files if (breed_from_oxford_name(f.stem) is not None) == cats]
    return np.stack([load_square(f, size) for f in files]), [f.stem for f in files]


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_every_pretrained_key_maps_one_to_one(variant: str) -> None:
    state = torch.load(pretrained_path(variant), map_location="cpu", weights_only=True)
    mapped = map_pretrained_keys(state)
    own = EfficientNetLite(variant, num_classes=1000).state_dict()
    assert set(mapped) == set(own), (set(mapped) ^ set(own))
    for k, v in mapped.items():
        assert own[k].shape == v.shape, k
    # the mapping is explicit: a key it does not know is an error, not a silent skip
    with pytest.raises(WeightMappingError):
        map_pretrained_key("_blocks.0._se_reduce.weight")
    assert map_pretrained_key("_blocks.3._depthwise_conv.weight") == "blocks.3.dw.conv.weight"
    assert map_pretrained_key("_bn1.running_var") == "head.bn.running_var"


def test_imagenet_head_sees_cats_in_cat_classes(oxford_mini: Path,
                                                imagenet_lite0: EfficientNetLite) -> None:
    """A real check of the wiring: a wrong padding, BatchNorm epsilon or key mapping sends
    these photos anywhere but ImageNet's five cat classes."""
    cats, names = fixture_images(oxford_mini, 224, cats=True)
    with torch.no_grad():
        logits, _ = imagenet_lite0(aug.normalize(aug.nhwc_to_nchw(cats)))
    top5 = logits.topk(5, dim=1).indices
    in_cats_top1 = np.isin(logits.argmax(1).numpy(), IMAGENET_CATS)
    in_cats_top5 = np.isin(top5.numpy(), IMAGENET_CATS).any(1)
    # measured on the 60 fixture cats (downscaled to 160 px): 0.73 top-1, 0.97 top-5
    assert in_cats_top1.mean() >= 0.6, list(zip(names, logits.argmax(1).tolist(), strict=True))
    assert in_cats_top5.mean() >= 0.9
    dogs, _ = fixture_images(oxford_mini, 224, cats=False)
    with torch.no_grad():
        dl, _ = imagenet_lite0(aug.normalize(aug.nhwc_to_nchw(dogs)))
    assert not np.isin(dl.argmax(1).numpy(), IMAGENET_CATS).any()  # dogs are not cats


def test_cam_shape_and_average_is_the_logit() -> None:
    model = build_classifier("lite0", pretrained=False).eval()
    torch.nn.init.normal_(model.fc.weight, std=0.05)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        logits, cam = model(x)
    assert logits.shape == (2, NUM_CLASSIFIER_LABELS)
    assert cam.shape == (2, NUM_CLASSIFIER_LABELS, 7, 7)
    torch.testing.assert_close(cam.mean(dim=(2, 3)), logits, rtol=1e-5, atol=1e-5)


def test_cam_points_at_the_cat(oxford_mini: Path, imagenet_lite0: EfficientNetLite) -> None:
    """A cat photo on the left half of a flat grey canvas: the map of the predicted (cat) class
    puts more evidence on the left than on the right."""
    cats, _ = fixture_images(oxford_mini, 224, cats=True)
    canvas = np.full_like(cats, 128)
    canvas[:, 40:184, :112] = np.stack([load_square_arr(c, 144, 112) for c in cats])
    with torch.no_grad():
        logits, cam = imagenet_lite0(aug.normalize(aug.nhwc_to_nchw(canvas)))
    top = logits.argmax(1)
    maps = cam[torch.arange(len(top)), top]  # (N, 7, 7)
    left, right = maps[:, :, :3].mean((1, 2)), maps[:, :, 4:].mean((1, 2))
    assert (left > right).float().mean() >= 0.9


def load_square_arr(img: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))


def test_freeze_skips_the_backward_of_frozen_blocks() -> None:
    model = build_classifier("lite0", pretrained=False)
    model.freeze(11)
    model.train()
    assert not model.stem.bn.training and not model.blocks[10].dw.bn.training
    assert model.blocks[11].dw.bn.training
    logits, _ = model(torch.randn(2, 3, 64, 64))
    logits.sum().backward()
    assert all(p.grad is None for p in model.blocks[10].parameters())
    assert all(p.grad is not None for p in model.blocks[11].parameters())


# ---- augmentation --------------------------------------------------------------------------

def test_normalisation_is_the_tf_lite_formula() -> None:
    x = torch.tensor([0, 127, 255], dtype=torch.uint8).view(1, 3, 1, 1)
    got = aug.normalize(x).flatten()
    torch.testing.assert_close(got, (torch.tensor([0.0, 127.0, 255.0]) - 127) / 128)


def test_augment_is_deterministic_shaped_and_bounded(oxford_mini: Path) -> None:
    cats, _ = fixture_images(oxford_mini, 96, cats=True)
    x = aug.nhwc_to_nchw(cats[:16])
    a = aug.augment(x, 64, torch.Generator().manual_seed(3))
    b = aug.augment(x, 64, torch.Generator().manual_seed(3))
    c = aug.augment(x, 64, torch.Generator().manual_seed(4))
    assert a.shape == (16, 3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    lo, hi = (0 - aug.MEAN[0]) / aug.STD[0], (1 - aug.MEAN[0]) / aug.STD[0]
    assert a.min() >= lo - 1e-5 and a.max() <= hi + 1e-5


def test_full_crop_and_flip_are_exact() -> None:
    x = torch.rand(2, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    same = aug.random_resized_crop(x, 32, g, scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=0.0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    flipped = aug.random_resized_crop(x, 32, g, scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=1.0)
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)


def test_low_resolution_removes_fine_detail() -> None:
    g = torch.Generator().manual_seed(0)
    checker = (torch.arange(128)[None, :] + torch.arange(128)[:, None]) % 2
    x = checker.float().expand(4, 3, 128, 128).clone()
    out = aug.low_resolution(x, g, p=1.0, sizes=(64, 64))
    assert out.shape == x.shape
    # a 1-pixel checkerboard cannot survive a trip through 64 px: it averages to grey
    assert (out - 0.5).abs().max() < 0.05
    untouched = aug.low_resolution(x, g, p=0.0)
    assert torch.equal(untouched, x)


def test_low_resolution_with_nearest_leaves_square_blocks() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 128, 128)
    out = aug.low_resolution(x, g, p=1.0, sizes=(32, 32), nearest=1.0)
    # 32 px enlarged 4x by nearest neighbour: every 4x4 block holds one value
    blocks = out.unfold(2, 4, 4).unfold(3, 4, 4)
    assert torch.equal(blocks, blocks[..., :1, :1].expand_as(blocks))
    smooth = aug.low_resolution(x, torch.Generator().manual_seed(0), p=1.0, sizes=(32, 32))
    assert not torch.equal(smooth, out)


def test_jpeg_round_trip_is_seeded_lossy_and_optional() -> None:
    smooth = torch.linspace(0, 1, 64).expand(64, 64)
    x = torch.stack([smooth, smooth.T, 1 - smooth])[None].repeat(3, 1, 1, 1)
    x = (x + 0.2 * torch.rand(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    a = aug.jpeg_round_trip(x, torch.Generator().manual_seed(5), p=1.0, quality=(10, 10))
    b = aug.jpeg_round_trip(x, torch.Generator().manual_seed(5), p=1.0, quality=(10, 10))
    assert torch.equal(a, b) and a.shape == x.shape
    err = (a - x).abs().mean()
    assert 0.01 < err < 0.2  # lossy (the noise is gone), but still the same picture
    fine = aug.jpeg_round_trip(x, torch.Generator().manual_seed(5), p=1.0, quality=(95, 95))
    assert (fine - x).abs().mean() < err
    assert torch.equal(aug.jpeg_round_trip(x, torch.Generator().manual_seed(5), p=0.0), x)
