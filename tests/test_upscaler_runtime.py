"""The upscaler stage through ONNX Runtime (runtime/upscale.py): export and manifest entry,
parity with the PyTorch sampler (generator/flow.py), golden vectors, and `tinycats generate`
at both sizes. A tiny generator (16 px) and a tiny upscaler (16 -> 32 px), randomly
initialised with every layer live, stand in for the shipped pair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from tinycats.config import to_dict
from tinycats.export import manifest as mf
from tinycats.export.generator_onnx import export_generator
from tinycats.export.golden import decode, make_upscaler_golden
from tinycats.export.onnx_common import ExportError
from tinycats.export.upscaler_onnx import export_upscaler
from tinycats.generator import flow
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.dit import DiTConfig, TinyDiT
from tinycats.paths import shipped_models_dir
from tinycats.runtime.sample import Generator, initial_noise
from tinycats.runtime.upscale import Upscaler, upscale_noise
from tinycats.training.checkpoint import save_atomic
from tinycats.upscaler.config import UpscalerConfig
from tinycats.upscaler.model import UNetConfig, UpscalerUNet, as_denoiser

GEN = DiTConfig(image_size=16, patch_size=4, width=32, depth=2, heads=2)
UP = UNetConfig(image_size=32, widths=[16, 32], mid_blocks=1, emb_dim=32, groups=4)


def live(model: torch.nn.Module) -> torch.nn.Module:
    """Random weights everywhere, the zero-initialised convs included: every path counts."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def export_pair(d: Path, up_cfg: UpscalerConfig, variants: tuple[str, ...]
                ) -> tuple[UpscalerUNet, Path]:
    """The tiny generator and an upscaler of ``up_cfg``, live weights, exported into d/models."""
    gen = live(TinyDiT(GEN))
    save_atomic({"model": gen.state_dict(), "config": to_dict(GeneratorConfig(name="tiny",
                                                                              model=GEN)),
                 "step": 0}, d / "gen.pt")
    export_generator(d / "gen.pt", d / "models", variants=("fp32",))
    up = live(UpscalerUNet(up_cfg.model))
    save_atomic({"model": up.state_dict(), "config": to_dict(up_cfg), "step": 5}, d / "up.pt")
    export_upscaler(d / "up.pt", d / "models", variants=variants)
    return up, d / "models" / "manifest.json"  # type: ignore[return-value]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[UpscalerUNet, Path]:
    torch.manual_seed(0)
    cfg = UpscalerConfig(model=UP)
    cfg.sampler.steps = 3
    return export_pair(tmp_path_factory.mktemp("cascade"), cfg, ("fp32", "fp16"))


def test_export_adds_the_stage_to_the_manifest(pair: tuple[UpscalerUNet, Path]) -> None:
    _, man = pair
    models = mf.load(man)["models"]
    e = models["upscaler"]
    assert "generator" in models  # the second stage joins the first, it does not replace it
    assert (e["image_size"], e["cond_size"]) == (32, 16)
    assert e["inputs"] == {"x": "x", "t": "t", "cond": "cond", "s": "s"}
    assert e["sampler"]["default_steps"] == 3 and e["sampler"]["t_eps"] == flow.T_EPS
    assert e["files"]["fp32"]["parity_vs_torch"]["max_abs_diff"] < 1e-4
    assert e["files"]["fp16"]["parity_vs_torch"]["max_abs_diff"] < 5e-2
    for fe in e["files"].values():
        assert mf.sha256_file(man.parent / fe["file"]) == fe["sha256"]


def test_onnx_stage_matches_the_torch_sampler(pair: tuple[UpscalerUNet, Path]) -> None:
    model, man = pair
    up = Upscaler(man)
    x64 = np.tanh(initial_noise(5, 2, 16))
    eps_c, x0 = upscale_noise(5, 2, 16, 32)
    s = 0.1
    for solver in ("euler", "heun"):
        object.__setattr__(up, "default_settings",
                           up.default_settings.__class__(4, solver, 2.0, s))
        ours = up.upscale(x64, eps_c, x0)
        cond = torch.from_numpy(x64 + np.float32(s) * eps_c)
        empty = torch.zeros(2, 0)
        ref = flow.sample(as_denoiser(model, cond, torch.full((2,), s)), torch.from_numpy(x0),
                          empty, empty, steps=4, cfg_scale=1.0, prediction="x",
                          solver=solver, shift=2.0).numpy()  # type: ignore[arg-type]
        assert ours.shape == (2, 3, 32, 32)
        assert np.abs(ours - ref).max() < 1e-4, solver


def test_stage_noise_continues_the_base_stream() -> None:
    rng = np.random.default_rng(9)
    base = rng.standard_normal((3, 3, 16, 16), dtype=np.float32)
    eps_c, x0 = upscale_noise(9, 3, 16, 32)
    assert np.array_equal(base, initial_noise(9, 3, 16))
    assert np.array_equal(eps_c, rng.standard_normal((3, 3, 16, 16), dtype=np.float32))
    assert np.array_equal(x0, rng.standard_normal((3, 3, 32, 32), dtype=np.float32))


def test_golden_roundtrip(pair: tuple[UpscalerUNet, Path]) -> None:
    _, man = pair
    g = make_upscaler_golden(man)
    gen, up = Generator(man), Upscaler(man)
    b = g["base"]
    x64 = gen.sample(decode(b["noise"]), gen.one_hot([b["class_id"]]), steps=b["steps"],
                     cfg_scale=b["cfg_scale"], solver=b["solver"], shift=b["shift"])
    assert np.array_equal(x64, decode(b["final"]))
    again = up.upscale(x64, decode(g["eps_c"]), decode(g["noise"]), steps=g["sample"]["steps"],
                       s=g["sample"]["s"])
    assert np.array_equal(again, decode(g["sample"]["final"]))


def test_committed_golden_matches_shipped_upscaler() -> None:
    """The committed golden file agrees with the shipped pair through this runtime."""
    golden = Path(__file__).parent / "golden" / "upscaler.json"
    man = shipped_models_dir() / "manifest.json"
    if not golden.exists() or not man.exists() or "upscaler" not in mf.load(man)["models"]:
        pytest.skip("no shipped upscaler/golden vectors in this checkout")
    g = json.loads(golden.read_text())
    up = Upscaler(man, variant="fp32")
    assert up.file_entry["sha256"] == g["model"]["sha256"], "golden file is stale: re-export"
    x64, eps_c = decode(g["base"]["final"]), decode(g["eps_c"])
    sc = g["single_call"]
    out = up.denoise(decode(g["noise"]), np.full((1,), sc["t"], np.float32),
                     x64 + np.float32(sc["s"]) * eps_c, np.full((1,), sc["s"], np.float32))
    assert np.abs(out - decode(sc["out"])).max() < 1e-4
    img = up.upscale(x64, eps_c, decode(g["noise"]), steps=g["sample"]["steps"],
                     s=g["sample"]["s"])
    assert np.abs(img - decode(g["sample"]["final"])).max() < g["tolerance"]["max_abs"]


def test_generate_cli_draws_both_sizes(pair: tuple[UpscalerUNet, Path], tmp_path: Path,
                                       cli) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    _, man = pair
    each = tmp_path / "each"
    args = ("generate", "--breed", "Bengal", "-n", "2", "--steps", "2", "--seed", "3",
            "--model-dir", str(man.parent))
    r = cli(*args, "-o", str(tmp_path / "big.png"), "--out-dir", str(each))
    assert r.code == 0, r.err
    assert "at 32 px" in r.out
    assert {Image.open(p).size for p in each.glob("*.png")} == {(32, 32)}
    r = cli(*args, "--size", "16", "-o", str(tmp_path / "small.png"), "--out-dir",
            str(tmp_path / "small"))
    assert r.code == 0, r.err
    assert {Image.open(p).size for p in (tmp_path / "small").glob("*.png")} == {(16, 16)}
    r = cli(*args, "--size", "24", "-o", str(tmp_path / "bad.png"))
    assert r.code == 2 and "--size must be 16 or 32, got 24" in r.err
    assert "Traceback" not in r.err and not (tmp_path / "bad.png").exists()


def test_tampered_upscaler_is_refused(pair: tuple[UpscalerUNet, Path], tmp_path: Path,
                                      cli) -> None:  # type: ignore[no-untyped-def]
    import shutil

    _, man = pair
    d = tmp_path / "models"
    shutil.copytree(man.parent, d)
    f = d / "upscaler-fp32.onnx"
    f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    r = cli("generate", "--breed", "Bengal", "-n", "1", "--model-dir", str(d),
            "-o", str(tmp_path / "x.png"))
    assert r.code == 2 and "does not match the manifest" in r.err
    assert "Traceback" not in r.err
    r = cli("generate", "--breed", "Bengal", "-n", "1", "--steps", "1", "--size", "16",
            "--model-dir", str(d), "-o", str(tmp_path / "x.png"))
    assert r.code == 0, r.err  # the 64 px stage alone does not need the upscaler file


def test_a_graph_with_inputs_the_entry_does_not_name_is_refused(
        pair: tuple[UpscalerUNet, Path], tmp_path: Path) -> None:
    """A graph that takes more than x, t, cond and s (an export of another design) is refused
    in one line when the stage opens, not by onnxruntime at its first call."""
    import shutil

    from onnx import TensorProto, helper, save

    _, man = pair
    d = tmp_path / "models"
    shutil.copytree(man.parent, d)
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
          for n in ("x", "t", "cond", "s", "y")]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["out"])], "g", io,
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)])
    f = d / "upscaler-fp32.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(f))
    m = mf.load(d / "manifest.json")
    m["models"]["upscaler"]["files"]["fp32"].update(mf.file_entry(f))
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(mf.ManifestError, match=r"also takes \['y'\]"):
        Upscaler(d / "manifest.json", variant="fp32")


def test_export_refuses_a_generator_checkpoint(pair: tuple[UpscalerUNet, Path]) -> None:
    _, man = pair
    with pytest.raises(ExportError, match="not an upscaler checkpoint"):
        export_upscaler(man.parent.parent / "gen.pt", man.parent)


def test_eval_upscaler_stores_its_figures_only_for_the_exported_weights(
        data_root: Path, tmp_path: Path, cli: Any) -> None:
    """`tinycats eval upscaler --update-manifest` on the fixture photos' test face crops: the
    figures land in the manifest's upscaler entry, where the About page reads them; weights
    other than the exported ones, or no FID, are refused in one line before any work."""
    from tinycats.data import cache

    cache.prepare_source(data_root, cache.load_registry(data_root)["oxford"], 32, workers=1)
    torch.manual_seed(0)
    up = live(UpscalerUNet(UP))
    cfg = UpscalerConfig(model=UP)
    cfg.data.size, cfg.sampler.steps = 32, 1
    ck = {"model": up.state_dict(), "config": to_dict(cfg), "step": 7}
    save_atomic(ck, tmp_path / "up.pt")
    models = tmp_path / "models"
    export_upscaler(tmp_path / "up.pt", models, variants=("fp32",))
    save_atomic({**ck, "step": 8}, tmp_path / "later.pt")
    args = ("eval", "upscaler", "--data-dir", str(data_root), "--model-dir", str(models),
            "--update-manifest", "--limit", "2")

    r = cli(*args, "--checkpoint", str(tmp_path / "later.pt"))
    assert r.code != 0 and "step 8" in r.err and "step 7" in r.err and "Traceback" not in r.err
    r = cli(*args, "--checkpoint", str(tmp_path / "up.pt"), "--no-fid")
    assert r.code != 0 and "needs FID" in r.err
    assert "metrics" not in mf.model_entry(mf.load(models / "manifest.json"), "upscaler")

    report = tmp_path / "upscaler.json"
    r = cli(*args, "--checkpoint", str(tmp_path / "up.pt"), "--report", str(report))
    assert r.code == 0, r.err
    stored = mf.model_entry(mf.load(models / "manifest.json"), "upscaler")["metrics"]
    figures = json.loads(report.read_text())
    assert stored == {**figures, "measured_by": "tinycats eval upscaler"}
    assert figures["n"] == 2 and {"psnr_db", "fid"} <= set(figures["model"])

    # the exported file itself, read back with its recipe: the same figures as its checkpoint
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(to_dict(cfg)))
    again = tmp_path / "again.json"
    r = cli(*args, "--checkpoint", str(models / "upscaler-fp32.onnx"), "-c", str(recipe),
            "--report", str(again))
    assert r.code == 0, r.err
    assert json.loads(again.read_text())["model"]["psnr_db"] == figures["model"]["psnr_db"]
    other = tmp_path / "other.onnx"
    other.write_bytes((models / "upscaler-fp32.onnx").read_bytes() + b"\0")
    r = cli(*args, "--checkpoint", str(other), "-c", str(recipe))
    assert r.code != 0 and "not the fp32 file" in r.err and "Traceback" not in r.err
