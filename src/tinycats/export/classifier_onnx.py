"""Export the trained classifier: ONNX fp32 + int8, parity-checked, with its manifest entry.

The ONNX graph takes the normalised image (``image``: B x 3 x S x S float32, dynamic batch) and
returns ``probs`` (B x 13, softmax) and ``cam`` (B x 13 x S/32 x S/32, the class-activation maps).
Normalisation stays outside the graph: the runtimes apply the manifest's mean/std, so the formula
is written down once (docs/manifest.md) instead of hidden in a graph.

int8: static quantisation (QDQ, per-channel weights, activations calibrated on training images)
or dynamic quantisation (weights only). ``quantize_int8`` does either; the recipe's choice and the
measurements behind it are in docs/decisions/0004-classifier-backbone.md.

Parity: PyTorch and each ONNX file are run on the same real images; the maximum absolute
difference of the probabilities and the share of images with the same top label are printed and
written into the manifest entry.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tinycats.breeds import CLASSIFIER_LABELS, OTHER_ID
from tinycats.classifier.model import EfficientNetLite
from tinycats.data.augment import MEAN, SCALE, STD
from tinycats.export import manifest as mf
from tinycats.export.onnx_common import OPSET, ExportError
from tinycats.runtime.classify import OTHER_THRESHOLD, UNSURE_BELOW

FP32_NAME = "classifier-fp32.onnx"
INT8_NAME = "classifier-int8.onnx"


class _ProbsAndCam(nn.Module):
    def __init__(self, model: EfficientNetLite) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, cam = self.model(image)
        return torch.softmax(logits / self.model.temperature, dim=1), cam


def normalize_np(batch: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float32, the formula the manifest documents."""
    mean, std = np.asarray(MEAN, np.float32), np.asarray(STD, np.float32)
    x = (batch.astype(np.float32) / np.float32(SCALE) - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def export_fp32(model: EfficientNetLite, input_size: int, path: Path) -> Path:
    """Write ``path`` (one self-contained file, weights inside) with a dynamic batch axis."""
    model = model.eval().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    wrapper = _ProbsAndCam(model).eval()
    dummy = torch.zeros(2, 3, input_size, input_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=1024)
    with torch.no_grad():
        prog = torch.onnx.export(wrapper, (dummy,), dynamo=True, verbose=False,
                                 external_data=False, input_names=["image"],
                                 output_names=["probs", "cam"],
                                 dynamic_shapes={"image": {0: batch}}, opset_version=OPSET)
    if prog is None:
        raise ExportError("torch.onnx.export returned nothing")
    prog.save(str(path), external_data=False)
    return path


class _Calibration:
    """Feeds calibration batches to onnxruntime's static quantiser."""

    def __init__(self, images: np.ndarray, batch: int = 16) -> None:
        self.batches: Iterator[np.ndarray] = (normalize_np(images[i:i + batch])
                                              for i in range(0, len(images), batch))

    def get_next(self) -> dict[str, np.ndarray] | None:
        b = next(self.batches, None)
        return None if b is None else {"image": b}

    def rewind(self) -> None:  # pragma: no cover - part of the reader protocol
        return None


def quantize_int8(fp32: Path, out: Path, mode: str = "static",
                  calibration: np.ndarray | None = None) -> Path:
    """int8 copy of ``fp32``: ``static`` (QDQ, needs calibration images) or ``dynamic``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        # Shape inference + graph cleanup first, as onnxruntime recommends before quantising.
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        if mode == "dynamic":
            quantize_dynamic(str(pre), str(out), weight_type=QuantType.QInt8, per_channel=True)
        elif mode == "static":
            if calibration is None or len(calibration) == 0:
                raise ExportError("static int8 quantisation needs calibration images")

            class Reader(_Calibration, CalibrationDataReader):
                pass

            # Per-channel weights: depthwise convs have very different ranges per channel and
            # lose most of their accuracy with one scale per tensor. The softmax stays float.
            # reduce_range (7-bit weights): on x86 CPUs without VNNI (AVX2 only) onnxruntime's
            # u8 x s8 kernels add pairs of products in saturating 16-bit lanes; full-range
            # weights overflowed there (a 2-vCPU AMD EPYC, AVX2 only: 73% on the test fixtures vs
            # >= 80% on CPUs with VNNI). 7-bit weights cannot overflow; onnxruntime's docs
            # recommend it.
            quantize_static(str(pre), str(out), Reader(calibration),
                            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=_softmax_nodes(pre))
        else:
            raise ExportError(f"unknown int8 mode {mode!r}: static or dynamic")
    return out


def _softmax_nodes(path: Path) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type == "Softmax"]


def onnx_session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, images: np.ndarray, batch: int = 32
             ) -> tuple[np.ndarray, np.ndarray]:
    probs, cams = [], []
    for i in range(0, len(images), batch):
        p, c = session.run(["probs", "cam"], {"image": normalize_np(images[i:i + batch])})
        probs.append(p)
        cams.append(c)
    return np.concatenate(probs), np.concatenate(cams)


@torch.no_grad()
def run_torch(model: EfficientNetLite, images: np.ndarray, batch: int = 32
              ) -> tuple[np.ndarray, np.ndarray]:
    model = model.eval()
    probs, cams = [], []
    for i in range(0, len(images), batch):
        logits, cam = model(torch.from_numpy(normalize_np(images[i:i + batch])))
        probs.append(torch.softmax(logits / model.temperature, 1).numpy())
        cams.append(cam.numpy())
    return np.concatenate(probs), np.concatenate(cams)


def parity(ref_probs: np.ndarray, ref_cam: np.ndarray, probs: np.ndarray, cam: np.ndarray
           ) -> dict[str, float]:
    return {"images": len(ref_probs),
            "max_abs_diff_probs": float(np.abs(ref_probs - probs).max()),
            "max_abs_diff_cam": float(np.abs(ref_cam - cam).max()),
            "argmax_agreement": float((ref_probs.argmax(1) == probs.argmax(1)).mean())}


def classifier_entry(input_size: int, files: dict[str, dict[str, Any]], default_variant: str,
                     extra: dict[str, Any]) -> dict[str, Any]:
    """The manifest entry (schema: docs/manifest.md, classifier section)."""
    return {
        "task": "classify",
        "labels": [{"id": lab.id, "key": lab.key, "display": lab.display}
                   for lab in CLASSIFIER_LABELS],
        "other_id": OTHER_ID,
        "input": {"name": "image", "layout": "NCHW", "size": input_size, "channels": "RGB",
                  "resize": "shorter_side_then_center_crop", "unblock": True, "scale": SCALE,
                  "mean": [round(v, 8) for v in MEAN], "std": [round(v, 8) for v in STD]},
        "outputs": {"probs": "probs", "cam": "cam"},
        # top label: "other" when P(other) >= this, else the most probable breed (see
        # tinycats.runtime.classify.decide and docs/manifest.md)
        "other_threshold": OTHER_THRESHOLD,
        # an answer under this probability is "unsure" (tinycats.runtime.classify.unsure)
        "unsure_below": UNSURE_BELOW,
        "files": files,
        "default_variant": default_variant,
        **extra,
    }


def _timed_int8(fp32: Path, int8: Path, mode: str, calibration: np.ndarray | None,
                log: Callable[[str], None]) -> None:
    t = time.time()
    quantize_int8(fp32, int8, mode, calibration)
    log(f"wrote {int8} ({int8.stat().st_size / 1e6:.2f} MB, {mode}) in {time.time() - t:.0f} s")


def export_classifier(model: EfficientNetLite, input_size: int, out_dir: Path, *,
                      parity_images: np.ndarray, calibration: np.ndarray | None,
                      int8_mode: str = "static", default_variant: str = "int8",
                      extra: dict[str, Any] | None = None,
                      log: Callable[[str], None] = print) -> dict[str, Any]:
    """fp32 + int8 files in ``out_dir``, parity-checked; updates ``out_dir/manifest.json``'s
    classifier entry (other entries are kept). Returns the entry."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / FP32_NAME, out_dir / INT8_NAME
    t = time.time()
    export_fp32(model, input_size, fp32)
    log(f"wrote {fp32} ({fp32.stat().st_size / 1e6:.2f} MB) in {time.time() - t:.0f} s")
    _timed_int8(fp32, int8, int8_mode, calibration, log)

    ref_p, ref_c = run_torch(model, parity_images)
    checks: dict[str, dict[str, float]] = {}
    for name, path in (("fp32", fp32), ("int8", int8)):
        p, c = run_onnx(onnx_session(path), parity_images)
        checks[name] = parity(ref_p, ref_c, p, c)
        r = checks[name]
        log(f"parity {name} vs PyTorch on {r['images']} real images: max |dprobs| "
            f"{r['max_abs_diff_probs']:.2e}, max |dcam| {r['max_abs_diff_cam']:.2e}, "
            f"argmax agreement {r['argmax_agreement'] * 100:.1f}%")
    if checks["fp32"]["argmax_agreement"] < 1.0 or checks["fp32"]["max_abs_diff_probs"] > 1e-3:
        raise ExportError(f"fp32 ONNX disagrees with PyTorch: {checks['fp32']}")

    files = {"fp32": mf.file_entry(fp32), "int8": mf.file_entry(int8)}
    entry = classifier_entry(input_size, files, default_variant, {
        "int8_mode": int8_mode, "temperature": round(float(model.temperature), 5),
        "parity": checks, **(extra or {})})
    mf.update_model(out_dir / mf.MANIFEST_NAME, "classifier", entry)
    log(f"manifest: {out_dir / mf.MANIFEST_NAME} (classifier entry updated)")
    return entry


def requantize_classifier(out_dir: Path, calibration: np.ndarray, parity_images: np.ndarray,
                          log: Callable[[str], None] = print) -> dict[str, Any]:
    """Rebuild the int8 file from the fp32 ONNX already in ``out_dir`` (no PyTorch checkpoint
    needed), check it against that fp32 file, and update the manifest's int8 entry."""
    man_path = out_dir / mf.MANIFEST_NAME
    entry = mf.model_entry(mf.load(man_path), "classifier")
    fp32, int8 = out_dir / FP32_NAME, out_dir / INT8_NAME
    if mf.file_entry(fp32) != entry["files"]["fp32"]:
        raise ExportError(f"{fp32} is not the file the manifest lists: refusing to quantise it")
    _timed_int8(fp32, int8, "static", calibration, log)
    ref_p, ref_c = run_onnx(onnx_session(fp32), parity_images)
    p, c = run_onnx(onnx_session(int8), parity_images)
    check = parity(ref_p, ref_c, p, c)
    log(f"parity int8 vs fp32 ONNX on {check['images']} real images: max |dprobs| "
        f"{check['max_abs_diff_probs']:.2e}, argmax agreement "
        f"{check['argmax_agreement'] * 100:.1f}%")
    entry["files"]["int8"] = mf.file_entry(int8)
    entry["parity"]["int8"] = {**check, "reference": "fp32 ONNX"}
    entry.update(int8_mode="static", calibration_images=len(calibration))
    entry.pop("metrics", None)  # measured on the old int8 file: `tinycats eval classifier` again
    mf.update_model(man_path, "classifier", entry)
    log(f"manifest: {man_path} (classifier int8 entry updated; run tinycats eval classifier)")
    return entry
