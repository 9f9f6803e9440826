"""Generator export: one denoiser step as ONNX, in fp32, fp16 (for WebGPU) and int8
(``generator_int8``).

The graph is the network only: inputs ``x`` (B,3,S,S), ``t`` (B,), ``y`` (B,K) class weights;
output ``out`` (B,3,S,S), with a dynamic batch axis. The sampling loop and classifier-free
guidance live in the runtimes (docs/sampler.md), never in the graph. Weights are the EMA ones.
Every variant is parity-checked against PyTorch on a fixed input and the figures are kept in
the manifest entry.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinycats.breeds import GENERATOR_CLASSES, NULL_ID
from tinycats.export import manifest as mf
from tinycats.export.generator_int8 import to_int8
from tinycats.export.onnx_common import (
    OPSET,
    ExportError,
    check_sampler_basics,
    fixed_input,
    to_fp16,
    update_sampler,
)
from tinycats.generator.config import GeneratorConfig, config_from_checkpoint
from tinycats.generator.dit import TinyDiT
from tinycats.generator.flow import T_EPS

VARIANTS = ("fp32", "fp16", "int8")


def export_fp32(model: TinyDiT, path: Path) -> Path:
    c = model.cfg
    model = model.eval()
    args = (torch.zeros(2, c.channels, c.image_size, c.image_size), torch.full((2,), 0.5),
            torch.zeros(2, c.num_classes))
    batch = torch.export.Dim("batch", min=1, max=1024)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(model, args, dynamo=True, verbose=False, external_data=False,
                                 input_names=["x", "t", "y"], output_names=["out"],
                                 dynamic_shapes={"x": {0: batch}, "t": {0: batch},
                                                 "y": {0: batch}},
                                 opset_version=OPSET)
    if prog is None:
        raise ExportError("torch.onnx.export returned nothing")
    prog.save(str(path), external_data=False)
    return path


def parity(model: TinyDiT, cfg: GeneratorConfig, path: Path) -> dict[str, float]:
    """Max and mean |ONNX - PyTorch| of the network output on a fixed input."""
    import onnxruntime as ort

    x, t, y = fixed_input(cfg.model.image_size, cfg.model.channels, cfg.model.num_classes)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(["out"], {"x": x, "t": t, "y": y})[0]
    d = np.abs(out - ref)
    return {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean())}


def generator_entry(cfg: GeneratorConfig, files: dict[str, dict[str, Any]],
                    checkpoint_info: dict[str, Any]) -> dict[str, Any]:
    sc = cfg.sampler
    return {
        "task": "generate",
        "image_size": cfg.model.image_size,
        "channels": cfg.model.channels,
        "value_range": [-1, 1],
        "classes": [{"id": c.id, "key": c.key, "display": c.display} for c in GENERATOR_CLASSES],
        "null_class": NULL_ID,
        "inputs": {"x": "x", "t": "t", "y": "y"},
        "output": "out",
        "prediction": cfg.prediction,
        # how training images were cropped: the evaluation prepares its real images the same way
        "data": {"crop": cfg.data.crop, "face_margin": cfg.data.face_margin},
        "sampler": {"time": "t0_noise_t1_data", "interpolant": "x_t = t*x + (1-t)*eps",
                    "t_eps": T_EPS, "default_steps": sc.steps,
                    "default_cfg_scale": sc.cfg_scale, "solver": sc.solver, "shift": sc.shift,
                    "cfg": "v = v_null + s*(v_cond - v_null), cond and null as one batch of 2B",
                    "noise": "numpy default_rng(seed).standard_normal((B,3,S,S), float32)"},
        "files": files,
        "default_variant": "fp32",
        "model": {"params": sum(p.numel() for p in TinyDiT(cfg.model).parameters()),
                  "width": cfg.model.width, "depth": cfg.model.depth,
                  "patch_size": cfg.model.patch_size, "heads": cfg.model.heads},
        "training": checkpoint_info,
    }


def check_consistent(model_state: dict[str, torch.Tensor], cfg: GeneratorConfig) -> None:
    """Refuse a checkpoint whose weights do not fit its config (clear message, not a trace)."""
    if cfg.model.num_classes != len(GENERATOR_CLASSES):
        raise ExportError(
            f"checkpoint has {cfg.model.num_classes} classes but this tinycats knows "
            f"{len(GENERATOR_CLASSES)} generator classes: unknown class set, refusing to export")
    expected = TinyDiT(cfg.model).state_dict()
    bad = [k for k, v in expected.items()
           if k not in model_state or tuple(model_state[k].shape) != tuple(v.shape)]
    extra = [k for k in model_state if k not in expected]
    if bad or extra:
        raise ExportError(f"checkpoint weights do not match its model config "
                          f"(mismatched: {bad[:5]}, unexpected: {extra[:5]})")


#: sampler setting (recipe name) -> its key in the manifest's ``sampler`` block
SAMPLER_KEYS = {"steps": "default_steps", "cfg_scale": "default_cfg_scale", "solver": "solver",
                "shift": "shift"}


def check_sampler(sampler: dict[str, Any]) -> None:
    """Refuse sampler defaults the runtimes could not use (clear message, not a trace)."""
    check_sampler_basics(sampler, SAMPLER_KEYS)
    if float(sampler.get("cfg_scale", 1.0)) < 0:
        raise ExportError("the guidance scale must not be negative")


def set_sampler_defaults(manifest_path: Path, sampler: dict[str, Any]) -> dict[str, Any]:
    """Change the shipped generator's default sampler settings in its manifest, without
    re-exporting (the ONNX files do not depend on them). Defaults are chosen by measuring the
    trained model (``tinycats eval generator --steps ...``), so they can change after export.
    The stored metrics were measured at the old defaults and are dropped when anything changes:
    ``tinycats eval generator`` measures the new ones."""
    check_sampler(sampler)
    return update_sampler(manifest_path, "generator",
                          {SAMPLER_KEYS[k]: v for k, v in sampler.items()})


def set_showcase(manifest_path: Path, class_key: str, seed: int) -> dict[str, Any]:
    """Name the breed and seed the web app's Generate page opens on: a first impression chosen
    by looking at the exported weights' cats, so it belongs to them (a new export drops it). The
    seed is the browser's (web/src/engine/rng.ts), whose noise differs from NumPy's."""
    entry = mf.model_entry(mf.load(manifest_path), "generator")
    keys = [c["key"] for c in entry["classes"]][: entry["null_class"]]
    if class_key not in keys:
        raise ExportError(f"no class {class_key!r} in the generator; one of {', '.join(keys)}")
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ExportError(f"seed must be 0 to 4294967295, got {seed}")
    entry["showcase"] = {"class": class_key, "seed": seed}
    mf.update_model(manifest_path, "generator", entry)
    return entry


def export_generator(checkpoint: Path, out_dir: Path, *,
                     variants: tuple[str, ...] = VARIANTS,
                     metrics: dict[str, Any] | None = None,
                     sampler: dict[str, Any] | None = None) -> dict[str, Any]:
    """Export ``checkpoint``'s EMA weights into ``out_dir`` and update its manifest.

    ``sampler`` overrides the recipe's default sampler settings (steps, cfg_scale, solver,
    shift) written to the manifest: defaults are chosen by measuring the trained model
    (``tinycats eval generator --cfg ...``), which happens after its recipe was written."""
    import dataclasses

    from tinycats.training import checkpoint as ckpt

    ck = ckpt.load(checkpoint)
    try:
        cfg = config_from_checkpoint(ck["config"])
    except (TypeError, KeyError) as e:
        raise ExportError(f"{checkpoint} carries no usable generator config ({e})") from e
    if sampler:
        check_sampler(sampler)
        cfg = dataclasses.replace(cfg, sampler=dataclasses.replace(cfg.sampler, **sampler))
    state = ck["ema"] if "ema" in ck else ck["model"]
    check_consistent(state, cfg)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ExportError(f"unknown variant(s) {sorted(unknown)}; choose from {VARIANTS}")
    model = TinyDiT(cfg.model)
    model.load_state_dict(state)
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = export_fp32(model, out_dir / "generator-fp32.onnx")
    paths = {"fp32": fp32}
    if "fp16" in variants:
        paths["fp16"] = to_fp16(fp32, out_dir / "generator-fp16.onnx")
    info = {"steps": ck.get("step"), "summary": ck.get("summary", {}),
            "checkpoint": checkpoint.name, "config_name": cfg.name}
    if "int8" in variants:  # calibrated on the fp32 file's own sampler trajectories
        paths["int8"] = to_int8(fp32, out_dir / "generator-int8.onnx",
                                generator_entry(cfg, {}, info))
    files: dict[str, dict[str, Any]] = {}
    for name, p in paths.items():
        files[name] = {**mf.file_entry(p), "parity_vs_torch": parity(model, cfg, p)}
    entry = generator_entry(cfg, files, info)
    if metrics:
        entry["metrics"] = metrics
    else:  # keep previously measured metrics of the same files, if any
        man_path = out_dir / mf.MANIFEST_NAME
        if man_path.exists():
            old = mf.load(man_path)["models"].get("generator", {})
            if old.get("metrics") and old.get("files", {}).get("fp32", {}).get(
                    "sha256") == files["fp32"]["sha256"]:
                entry["metrics"] = old["metrics"]
    mf.update_model(out_dir / mf.MANIFEST_NAME, "generator", entry)
    return entry
