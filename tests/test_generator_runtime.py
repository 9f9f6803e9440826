"""The ONNX side of the generator: export (and its refusals), the NumPy/onnxruntime sampler's
parity with the PyTorch sampler, golden vectors, and `tinycats generate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tinycats.breeds import NULL_ID
from tinycats.config import to_dict
from tinycats.export import manifest as mf
from tinycats.export.generator_onnx import export_generator
from tinycats.export.golden import decode, make_golden
from tinycats.export.onnx_common import ExportError
from tinycats.generator import flow
from tinycats.generator.config import GeneratorConfig
from tinycats.generator.dit import DiTConfig, TinyDiT, one_hot
from tinycats.paths import shipped_models_dir
from tinycats.runtime.sample import Generator, initial_noise
from tinycats.training.checkpoint import save_atomic

TINY = DiTConfig(image_size=16, patch_size=4, width=32, depth=2, heads=2)


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyDiT, Path]:
    """A tiny randomly initialised generator (all layers live), exported to ONNX."""
    torch.manual_seed(0)
    model = TinyDiT(TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    cfg = GeneratorConfig(name="tiny", model=TINY)
    d = tmp_path_factory.mktemp("gen")
    save_atomic({"model": model.state_dict(), "config": to_dict(cfg), "step": 0}, d / "ema.pt")
    export_generator(d / "ema.pt", d / "models", variants=("fp32", "int8"))
    return model.eval(), d / "models" / "manifest.json"


def test_export_writes_manifest_entry_with_contract(tiny_export: tuple[TinyDiT, Path]) -> None:
    _, man = tiny_export
    e = mf.model_entry(mf.load(man), "generator")
    assert e["null_class"] == NULL_ID and e["classes"][-1]["key"] == "null"
    assert e["sampler"]["t_eps"] == flow.T_EPS and e["prediction"] == "x"
    for v in ("fp32", "int8"):
        f = man.parent / e["files"][v]["file"]
        assert f.stat().st_size == e["files"][v]["bytes"]
        assert mf.sha256_file(f) == e["files"][v]["sha256"]
    assert e["files"]["fp32"]["parity_vs_torch"]["max_abs_diff"] < 1e-4


def test_onnx_sampler_matches_torch_sampler(tiny_export: tuple[TinyDiT, Path]) -> None:
    model, man = tiny_export
    gen = Generator(man)
    noise = initial_noise(3, 2, 16)
    labels = [1, 10]
    for solver in ("euler", "heun"):
        ours = gen.sample(noise, gen.one_hot(labels), steps=5, cfg_scale=2.5, solver=solver)
        ref = flow.sample(model, torch.from_numpy(noise), one_hot(torch.tensor(labels)),
                          one_hot(torch.full((2,), NULL_ID)), steps=5, cfg_scale=2.5,
                          prediction="x", solver=solver).numpy()  # type: ignore[arg-type]
        # stated tolerance: float32 kernels of two runtimes, 9 network calls deep
        assert np.abs(ours - ref).max() < 1e-4, solver


def test_same_seed_same_image(tiny_export: tuple[TinyDiT, Path]) -> None:
    _, man = tiny_export
    gen = Generator(man)
    a = gen.sample(initial_noise(5, 1, 16), gen.one_hot([2]), steps=3)
    b = gen.sample(initial_noise(5, 1, 16), gen.one_hot([2]), steps=3)
    c = gen.sample(initial_noise(6, 1, 16), gen.one_hot([2]), steps=3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_tampered_model_is_refused(tiny_export: tuple[TinyDiT, Path], tmp_path: Path) -> None:
    _, man = tiny_export
    import shutil

    d = tmp_path / "m"
    shutil.copytree(man.parent, d)
    f = d / "generator-fp32.onnx"
    data = bytearray(f.read_bytes())
    data[-10] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(mf.ModelIntegrityError, match="does not match the manifest"):
        Generator(d / "manifest.json", variant="fp32")


def test_export_refuses_mismatched_checkpoint(tmp_path: Path) -> None:
    model = TinyDiT(TINY)
    wrong = GeneratorConfig(name="x", model=DiTConfig(image_size=16, patch_size=4, width=64,
                                                      depth=2, heads=2))
    save_atomic({"model": model.state_dict(), "config": to_dict(wrong)}, tmp_path / "a.pt")
    with pytest.raises(ExportError, match="do not match its model config"):
        export_generator(tmp_path / "a.pt", tmp_path / "out")
    cls = GeneratorConfig(name="x", model=DiTConfig(image_size=16, patch_size=4, width=32,
                                                    depth=2, heads=2, num_classes=20))
    save_atomic({"model": TinyDiT(cls.model).state_dict(), "config": to_dict(cls)},
                tmp_path / "b.pt")
    with pytest.raises(ExportError, match="unknown class set"):
        export_generator(tmp_path / "b.pt", tmp_path / "out")


def test_export_sampler_defaults_override(tmp_path: Path) -> None:
    cfg = GeneratorConfig(name="x", model=TINY)
    save_atomic({"model": TinyDiT(TINY).state_dict(), "config": to_dict(cfg)}, tmp_path / "a.pt")
    e = export_generator(tmp_path / "a.pt", tmp_path / "out", variants=("fp32",),
                         sampler={"cfg_scale": 4.5, "solver": "euler", "steps": 12,
                                  "shift": 2.0})
    s = mf.model_entry(mf.load(tmp_path / "out" / "manifest.json"), "generator")["sampler"]
    assert s == e["sampler"]
    assert (s["default_cfg_scale"], s["solver"], s["default_steps"]) == (4.5, "euler", 12)
    assert s["shift"] == 2.0
    e = export_generator(tmp_path / "a.pt", tmp_path / "o1", variants=("fp32",),
                         sampler={"cfg_scale": 4.5})
    assert e["sampler"]["shift"] == cfg.sampler.shift  # not overridden: the recipe's
    with pytest.raises(ExportError, match="solver must be euler or heun"):
        export_generator(tmp_path / "a.pt", tmp_path / "o2", sampler={"solver": "rk4"})
    with pytest.raises(ExportError, match="unknown sampler setting"):
        export_generator(tmp_path / "a.pt", tmp_path / "o2", sampler={"guidance": 2.0})


def test_sampler_defaults_command(tiny_export: tuple[TinyDiT, Path], tmp_path: Path,
                                  cli) -> None:  # type: ignore[no-untyped-def]
    """`tinycats export sampler-defaults` moves the defaults the runtimes read, drops metrics
    measured at the old ones, and refuses settings no runtime could use."""
    import shutil

    _, man = tiny_export
    d = tmp_path / "models"
    shutil.copytree(man.parent, d)
    entry = mf.model_entry(mf.load(d / "manifest.json"), "generator")
    entry["metrics"] = {"breed_accuracy_mean": 0.5, "sampler": dict(entry["sampler"])}
    mf.update_model(d / "manifest.json", "generator", entry)
    r = cli("export", "sampler-defaults", "--model-dir", str(d), "--steps", "7")
    assert r.code == 0, r.err
    e = mf.model_entry(mf.load(d / "manifest.json"), "generator")
    assert e["sampler"]["default_steps"] == 7 and "metrics" not in e
    assert e["files"] == entry["files"]  # the models themselves are untouched
    calls: list[int] = []
    gen = Generator(d / "manifest.json")
    gen.sample(initial_noise(0, 1, gen.size), gen.one_hot([0]),
               callback=lambda i, n, x: calls.append(n))
    assert calls == [7] * 7  # the runtime follows the new default
    r = cli("export", "sampler-defaults", "--model-dir", str(d), "--steps", "7")
    assert r.code == 0 and "unchanged" in r.out
    for args, msg in ((["--solver", "rk4"], "euler or heun"), (["--steps", "0"], "at least 1"),
                      ([], "nothing to change")):
        r = cli("export", "sampler-defaults", "--model-dir", str(d), *args)
        assert r.code != 0 and msg in r.err and "Traceback" not in r.err, (args, r.err)


def test_int8_requantize_command(tiny_export: tuple[TinyDiT, Path], tmp_path: Path,
                                 cli) -> None:  # type: ignore[no-untyped-def]
    """`tinycats export generator-int8` rebuilds the int8 file from the fp32 ONNX alone
    (smoothed, per-channel 7-bit weights): every weight MatMul becomes an integer one, the
    manifest points at the new file, and its samples stay close to fp32's."""
    import shutil

    import onnx

    _, man = tiny_export
    d = tmp_path / "models"
    shutil.copytree(man.parent, d)
    before = mf.model_entry(mf.load(d / "manifest.json"), "generator")["files"]
    (d / "generator-int8.onnx").unlink()  # built from fp32 alone, not from the old int8 file
    r = cli("export", "generator-int8", "--model-dir", str(d))
    assert r.code == 0, r.err
    files = mf.model_entry(mf.load(d / "manifest.json"), "generator")["files"]
    assert files["fp32"] == before["fp32"]
    assert files["int8"]["parity_vs_fp32_onnx"]["max_abs_diff"] > 0
    g = onnx.load(str(d / "generator-int8.onnx")).graph
    ops = [n.op_type for n in g.node]
    assert ops.count("MatMulInteger") >= 2 * TINY.depth + 2
    assert all(int(np.abs(onnx.numpy_helper.to_array(i)).max()) <= 63
               for i in g.initializer if i.data_type == onnx.TensorProto.INT8)
    noise = initial_noise(3, 4, TINY.image_size)
    outs = []
    for v in ("fp32", "int8"):
        gen = Generator(d / "manifest.json", variant=v)
        outs.append(gen.sample(noise, gen.one_hot([0, 1, 2, 12]), steps=4))
    rms = float(np.sqrt(((outs[1] - outs[0]) ** 2).mean()))
    assert 0 < rms < 0.05, rms


def test_mix_is_convex_combination(tiny_export: tuple[TinyDiT, Path]) -> None:
    _, man = tiny_export
    gen = Generator(man)
    y = gen.mix({gen.class_id("Bengal"): 1.0, gen.class_id("siamese"): 3.0}, 2)
    assert y.shape == (2, 14) and np.allclose(y.sum(1), 1.0)
    assert y[0, 1] == pytest.approx(0.25) and y[0, 10] == pytest.approx(0.75)


def test_generate_cli(tiny_export: tuple[TinyDiT, Path], tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _, man = tiny_export
    out = tmp_path / "grid.png"
    r = cli("generate", "--breed", "maine-coon", "-n", "4", "--steps", "3", "--seed", "7",
            "--model-dir", str(man.parent), "-o", str(out), "--out-dir", str(tmp_path / "each"))
    assert r.code == 0, r.err
    first = out.read_bytes()
    assert len(list((tmp_path / "each").glob("*.png"))) == 4
    r = cli("generate", "--breed", "Maine Coon", "-n", "4", "--steps", "3", "--seed", "7",
            "--model-dir", str(man.parent), "-o", str(out))
    assert r.code == 0 and out.read_bytes() == first  # same seed, same image
    r = cli("generate", "--breed", "Maine Coon", "-n", "4", "--steps", "3", "--seed", "7",
            "--shift", "3", "--model-dir", str(man.parent), "-o", str(out))
    assert r.code == 0 and out.read_bytes() != first  # another time grid, another image
    r = cli("generate", "--breed", "Tabby", "--model-dir", str(man.parent), "-o", str(out))
    assert r.code == 2 and "unknown breed 'Tabby'" in r.err and "Siamese" in r.err
    assert "Traceback" not in r.err
    r = cli("generate", "--mix", "Bengal:0.5,Siamese:0.5", "-n", "2", "--steps", "2",
            "--model-dir", str(man.parent), "-o", str(out))
    assert r.code == 0, r.err
    r = cli("generate", "--breed", "Bengal", "--model-dir", str(tmp_path / "none"))
    assert r.code == 2 and "no manifest" in r.err


def test_golden_roundtrip(tiny_export: tuple[TinyDiT, Path]) -> None:
    _, man = tiny_export
    g = make_golden(man)
    gen = Generator(man)
    noise = decode(g["noise"])
    for solver, s in g["samples"].items():
        again = gen.sample(noise, gen.one_hot([g["class_id"]]), steps=s["steps"],
                           cfg_scale=s["cfg_scale"], solver=solver)
        assert np.abs(again - decode(s["final"])).max() == 0.0


def test_committed_golden_matches_shipped_model() -> None:
    """The committed golden file agrees with the shipped generator through this runtime."""
    golden = Path(__file__).parent / "golden" / "generator.json"
    man = shipped_models_dir() / "manifest.json"
    if not golden.exists() or not man.exists():
        pytest.skip("no shipped generator/golden vectors in this checkout")
    g = json.loads(golden.read_text())
    gen = Generator(man, variant="fp32")
    assert gen.file_entry["sha256"] == g["model"]["sha256"], "golden file is stale: re-export"
    noise = decode(g["noise"])
    y = gen.one_hot([g["class_id"]])
    out = gen.denoise(np.concatenate([noise, noise]), np.full((2,), 0.3, np.float32),
                      np.concatenate([y, gen.one_hot([g["null_class"]])]))
    assert np.abs(out - decode(g["single_call"]["out"])).max() < 1e-4
    for solver, s in g["samples"].items():
        img = gen.sample(noise, y, steps=s["steps"], cfg_scale=s["cfg_scale"], solver=solver)
        assert np.abs(img - decode(s["final"])).max() < g["tolerance"]["max_abs"]
