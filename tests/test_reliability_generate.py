"""`tinycats generate` refuses bad numbers and paths before any work, never writes a NaN image,
never replaces a good file with a failed one, and shows its progress. Runs the shipped model
(one sampler step on one or a few cats) through the real entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tinycats.cli import generator_cmds
from tinycats.paths import shipped_models_dir
from tinycats.runtime import output, sample
from tinycats.runtime.limits import GenerateInputError
from tinycats.runtime.sample import Generator, SampleError, initial_noise

Cli = Callable[..., Any]
MANIFEST = shipped_models_dir() / "manifest.json"


@pytest.fixture
def keep(tmp_path: Path) -> tuple[Path, bytes]:
    """A good image that a failed run must leave as it is."""
    p = tmp_path / "keep.png"
    Image.new("RGB", (8, 8), (200, 100, 50)).save(p)
    return p, p.read_bytes()


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the model counts as work: a check that should come first fails the test."""

    def boom(*_: object, **__: object) -> None:
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(sample, "Generator", boom)


def one_line_error(r: Any, alone: bool = True) -> None:
    """Exit 2 and one ``error:`` line, the whole of stderr (``alone``) or its last line (after
    a progress bar)."""
    assert r.code == 2, (r.out, r.err)
    lines = r.err.strip().splitlines()
    assert lines[-1].startswith("error: ") and (len(lines) == 1 or not alone), r.err
    assert "Traceback" not in r.err


BAD_OPTIONS = [
    ["--cfg", "nan"], ["--cfg", "inf"], ["--cfg", "-1"], ["--cfg", "101"],
    ["--shift", "nan"], ["--shift", "0"], ["--shift", "-2"], ["--shift", "inf"],
    ["--steps", "0"], ["--steps", "1001"], ["-n", "0"], ["-n", "1025"], ["--seed", "-1"],
    ["--seed", str(2**32)], ["--upscale", "0"], ["--upscale", "17"], ["--solver", "rk4"],
]


@pytest.mark.parametrize("bad", BAD_OPTIONS, ids=" ".join)
def test_bad_numbers_fail_before_any_work(bad: list[str], keep: tuple[Path, bytes],
                                          no_model: None, cli: Cli) -> None:
    path, before = keep
    r = cli("generate", "-b", "Bengal", "-n", "1", *bad, "-o", str(path))
    one_line_error(r)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mix", ["Bengal:nan,Siamese:1", "Bengal:inf,Siamese:1",
                                 "Bengal:-1,Siamese:1", "Bengal:0,Siamese:0", "Bengal",
                                 "Bengal:x,Siamese:1"])
def test_bad_mix_fails_before_any_work(mix: str, keep: tuple[Path, bytes], no_model: None,
                                       cli: Cli) -> None:
    path, before = keep
    r = cli("generate", "--mix", mix, "-n", "1", "-o", str(path))
    one_line_error(r)
    assert path.read_bytes() == before


def test_output_paths_are_checked_before_sampling(tmp_path: Path, no_model: None,
                                                  cli: Cli) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    cases = {
        ("-o", str(folder)): "is a folder",
        ("-o", str(tmp_path / "cats")): "no image extension",
        ("-o", str(tmp_path / "cats.xyz")): "'.xyz'",
        ("-o", str(a_file / "cats.png")): "is a file, not a folder",
        ("-o", str(tmp_path / "ok.png"), "--out-dir", str(a_file)): "is a file, not a folder",
    }
    for args, message in cases.items():
        r = cli("generate", "-b", "Bengal", "-n", "1", *args)
        one_line_error(r)
        assert message in r.err, (args, r.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder"]


def test_a_grid_too_wide_is_refused_before_sampling(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    cli: Cli) -> None:
    def boom(*_: object, **__: object) -> None:
        raise AssertionError("sampled before the grid size was checked")

    monkeypatch.setattr(Generator, "sample", boom)
    r = cli("generate", "-b", "Bengal", "-n", "1024", "--upscale", "16",
            "-o", str(tmp_path / "big.png"))
    one_line_error(r)
    assert "px wide" in r.err and not (tmp_path / "big.png").exists()


def test_the_sampler_refuses_non_finite_values() -> None:
    gen = Generator(MANIFEST)
    noise = initial_noise(0, 1, gen.size, gen.channels)
    y = gen.one_hot([gen.class_id("Bengal")])
    noise[0, 0, 0, 0] = np.nan
    with pytest.raises(SampleError, match="NaN or inf at step 1"):
        gen.sample(noise, y, steps=1)
    for kwargs in ({"cfg_scale": float("nan")}, {"shift": 0.0}, {"shift": float("inf")},
                   {"steps": 0}, {"solver": "rk4"}):
        with pytest.raises(GenerateInputError):
            gen.sample(initial_noise(0, 1, gen.size), y, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(GenerateInputError):
        gen.mix({1: float("nan"), 2: 1.0}, 1)


def test_a_nan_result_is_an_error_and_the_old_image_stays(keep: tuple[Path, bytes],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          cli: Cli) -> None:
    path, before = keep

    def nan_noise(seed: int, n: int, size: int, channels: int = 3) -> np.ndarray:
        return np.full((n, channels, size, size), np.nan, np.float32)

    monkeypatch.setattr(sample, "initial_noise", nan_noise)
    r = cli("generate", "-b", "Bengal", "-n", "1", "--steps", "1", "-o", str(path))
    one_line_error(r, alone=False)
    assert "NaN" in r.err and path.read_bytes() == before


def test_an_interrupted_write_keeps_the_old_file(keep: tuple[Path, bytes],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = keep

    def half_save(self: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        Path(fp).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_save)
    with pytest.raises(OSError, match="No space"):
        output.save_image_atomic(np.zeros((4, 4, 3), np.uint8), path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["keep.png"]  # no temporary file left


def test_generate_shows_progress_and_chunks_match_one_batch(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            cli: Cli) -> None:
    monkeypatch.setattr(generator_cmds, "SAMPLE_CHUNK", 2)
    r = cli("generate", "-b", "Bengal", "-n", "5", "--steps", "1", "--seed", "3", "--upscale",
            "1", "--size", "64", "-o", str(tmp_path / "grid.png"), "--out-dir",
            str(tmp_path / "each"))
    assert r.code == 0, r.err
    assert "sampling 5 x Bengal" in r.err and "5/5" in r.err
    gen = Generator(MANIFEST)
    x = gen.sample(initial_noise(3, 5, gen.size), gen.one_hot([gen.class_id("Bengal")] * 5),
                   steps=1)
    from tinycats.grid import to_uint8

    want = to_uint8(x).astype(int)
    for i in range(5):
        got = np.asarray(Image.open(tmp_path / "each" / f"cat-3-{i:03d}.png")).astype(int)
        assert np.abs(got - want[i]).max() <= 1  # batch size may move a value by one level


def test_progress_names_the_breed_as_the_manifest_spells_it(tmp_path: Path, cli: Cli) -> None:
    """A breed typed loosely, or a mix, is shown by its display name (the mix normalised)."""
    r = cli("generate", "-b", "maine coon", "-n", "1", "--steps", "1", "--size", "64", "-o",
            str(tmp_path / "one.png"))
    assert r.code == 0, r.err
    assert "sampling 1 x Maine Coon" in r.err
    r = cli("generate", "--mix", "bengal:1,SIAMESE:3", "-n", "1", "--steps", "1", "--size", "64",
            "-o", str(tmp_path / "mix.png"))
    assert r.code == 0, r.err
    assert "sampling 1 x Bengal 25% + Siamese 75%" in r.err


def test_out_dir_keeps_the_models_size_and_the_grid_is_scaled_smoothly(tmp_path: Path,
                                                                        cli: Cli) -> None:
    """Saved cats are the generator's own pixels (--size 64) unless --upscale asks otherwise,
    and an upscaled image is smooth, not 2x2 blocks of equal pixels (which read as pixel art)."""
    r = cli("generate", "-b", "Siamese", "-n", "2", "--steps", "1", "--seed", "5", "--size",
            "64", "-o", str(tmp_path / "grid.png"), "--out-dir", str(tmp_path / "each"))
    assert r.code == 0, r.err
    size = Generator(MANIFEST).size
    one = np.asarray(Image.open(tmp_path / "each" / "cat-5-000.png"))
    assert one.shape[:2] == (size, size)
    grid = np.asarray(Image.open(tmp_path / "grid.png")).astype(int)
    # nearest-neighbour doubling would make every even/odd column pair identical
    assert (grid[:, 0::2] != grid[:, 1::2]).mean() > 0.3

    r = cli("generate", "-b", "Siamese", "-n", "1", "--steps", "1", "--seed", "5", "--upscale",
            "2", "--size", "64", "-o", str(tmp_path / "g2.png"), "--out-dir",
            str(tmp_path / "big"))
    assert r.code == 0, r.err
    assert np.asarray(Image.open(tmp_path / "big" / "cat-5-000.png")).shape[:2] == (2 * size,
                                                                                  2 * size)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_out_dir_the_system_refuses_is_one_line_before_sampling(tmp_path: Path,
                                                                    cli: Cli) -> None:
    """/proc takes no new folders, even from root, though access() says it is writable: the
    folder is made before the cats are drawn, so the refusal costs no sampling and no grid."""
    grid = tmp_path / "grid.png"
    r = cli("generate", "-b", "Siamese", "-n", "1", "--steps", "1", "-o", str(grid),
            "--out-dir", "/proc/tinycats-no-such-folder/cats")
    one_line_error(r)
    # as root: "cannot create it"; as another user the permission check says so even sooner
    assert "--out-dir /proc/tinycats-no-such-folder/cats: " in r.err
    assert not grid.exists()


def test_an_os_error_anywhere_is_one_line_and_exit_1(cli: Cli,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The last net under every command: a full disk cannot be made here, so the version
    command is made to raise the OSError a full disk gives."""
    from tinycats.cli import main as cli_main

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device", "/data/cats/cat-1.png")

    monkeypatch.setattr(cli_main, "version_text", full)
    r = cli("version")
    assert r.code == 1, (r.out, r.err)
    assert r.err.strip() == "error: /data/cats/cat-1.png: No space left on device"
