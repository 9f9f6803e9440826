"""`tinycats data add`: lenient folder names, clear errors before anything is registered/copied."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tinycats.data import cache
from tinycats.data.folders import FolderError, add_folder
from tinycats.data.prepare import prepare_all
from tinycats.data.sources import load_registry


def _folder(base: Path, layout: dict[str, int], src_img: Path) -> Path:
    """Make ``base`` with ``{relative_dir: n_images}`` copies of one fixture image."""
    for rel, n in layout.items():
        d = base / rel
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shutil.copy(src_img, d / f"img{i}.jpg")
    return base


@pytest.fixture
def img(oxford_mini: Path) -> Path:
    return oxford_mini / "images" / "Maine_Coon_1.jpg"


def test_lenient_folder_names(tmp_path: Path, img: Path) -> None:
    folder = _folder(tmp_path / "extra", {"Maine Coon": 2, "maine_coon": 1, "Maine-Coon": 1,
                                          "SPHYNX": 1, "british shorthair": 1, "Other": 1,
                                          "any cat": 1}, img)
    root = tmp_path / "data"
    res = add_folder(root, folder)
    assert res.counts == {"any_cat": 1, "british_shorthair": 1, "maine_coon": 4, "other": 1,
                          "sphynx": 1}
    assert res.source.name == "extra" and res.source.path == str(folder.resolve())
    assert res.copied_to is None  # registered in place by default
    # prepare agrees with add about the labels, and puts everything in train.
    prepare_all(root, 16)
    cs = cache.load(root, "extra", 16)
    assert sorted(cache.LABEL_KEYS[i] for i in cs.labels.tolist()).count("maine_coon") == 4
    assert set(cs.splits.tolist()) == {cache.SPLITS.index("train")}


def test_unknown_folder_name_fails_before_anything_happens(tmp_path: Path, img: Path) -> None:
    folder = _folder(tmp_path / "extra", {"Maine Coon": 1, "Scottish Fold": 1, "Dogz": 1}, img)
    root = tmp_path / "data"
    for copy in (False, True):
        with pytest.raises(FolderError) as e:
            add_folder(root, folder, copy=copy)
        msg = str(e.value)
        assert "'Dogz', 'Scottish Fold'" in msg
        assert "Maine Coon" in msg and "Russian Blue" in msg and "'other'" in msg
        assert not root.exists()  # nothing registered, nothing copied


def test_flat_folder_with_label(tmp_path: Path, img: Path) -> None:
    folder = _folder(tmp_path / "not-cat", {".": 3, "nested": 1}, img)
    (folder / "notes.txt").write_text("x")
    root = tmp_path / "data"
    res = add_folder(root, folder, label="other")
    assert res.counts == {"other": 4} and res.ignored == 1
    res = add_folder(root, _folder(tmp_path / "faces", {".": 2}, img), label="Any-Cat",
                     max_size=64)
    assert res.source.label == "any_cat" and res.source.max_size == 64
    res = add_folder(root, _folder(tmp_path / "blues", {".": 2}, img), label="russian blue")
    assert res.source.label == "russian_blue"


def test_bad_input_is_refused_clearly(tmp_path: Path, img: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(FolderError, match="not a folder"):
        add_folder(root, tmp_path / "nope")
    loose = _folder(tmp_path / "loose", {".": 2, "Bengal": 1}, img)
    with pytest.raises(FolderError, match="no --label"):
        add_folder(root, loose)
    (tmp_path / "empty" / "Bengal").mkdir(parents=True)
    with pytest.raises(FolderError, match="no images found"):
        add_folder(root, tmp_path / "empty")
    flat = _folder(tmp_path / "flat", {".": 1}, img)
    with pytest.raises(FolderError, match="unknown label 'tiger'; valid names: Abyssinian"):
        add_folder(root, flat, label="tiger")
    with pytest.raises(FolderError, match="kept for `tinycats data fetch`"):
        add_folder(root, flat, label="other", name="oxford")
    with pytest.raises(FolderError, match="source name 'Bad Name!'"):
        add_folder(root, flat, label="other", name="Bad Name!")
    with pytest.raises(FolderError, match="--max-size 0"):
        add_folder(root, flat, label="other", max_size=0)
    assert load_registry(root) == {}


def test_names_do_not_collide(tmp_path: Path, img: Path) -> None:
    root = tmp_path / "data"
    a = _folder(tmp_path / "a" / "pics", {"Bengal": 1}, img)
    b = _folder(tmp_path / "b" / "pics", {"Bengal": 1}, img)
    add_folder(root, a)
    with pytest.raises(FolderError, match="already registered"):
        add_folder(root, b)
    again = add_folder(root, a, max_size=128)  # same folder: an update
    assert "updated" in again.notes[0] and load_registry(root)["pics"].max_size == 128
    assert add_folder(root, b, name="pics-b").source.name == "pics-b"


def test_copy_puts_the_images_in_the_data_folder(tmp_path: Path, img: Path) -> None:
    folder = _folder(tmp_path / "usb", {"Bengal": 2, "Persian": 1}, img)
    (folder / "Bengal" / ".DS_Store").write_bytes(b"junk")
    (folder / "Bengal" / "notes.txt").write_text("junk")
    root = tmp_path / "data"
    res = add_folder(root, folder, copy=True)
    dest = root / "sources" / "usb"
    assert res.copied_to == dest and load_registry(root)["usb"].path == str(dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "Bengal/img0.jpg", "Bengal/img1.jpg", "Persian/img0.jpg"]
    shutil.rmtree(folder)  # the original can go away now
    assert prepare_all(root, 16)[0].info is not None
    assert cache.load(root, "usb", 16).images.shape[0] == 3


def test_cli_add(tmp_path: Path, img: Path, cli: Any) -> None:
    folder = _folder(tmp_path / "supp", {"Maine_Coon": 2}, img)
    r = cli("data", "add", str(folder), "--data-dir", str(tmp_path / "data"))
    assert r.code == 0, r.err
    assert "in place" in r.out and "Maine Coon" in r.out
    bad = _folder(tmp_path / "bad", {"Tabby": 1}, img)
    r = cli("data", "add", str(bad), "--data-dir", str(tmp_path / "data"))
    assert r.code == 2 and "unknown breed folder name" in r.err and "'Tabby'" in r.err
    r = cli("data", "add", str(_folder(tmp_path / "dogs", {".": 1}, img)), "--label", "other",
            "--name", "dogs", "--copy", "--data-dir", str(tmp_path / "data"))
    assert r.code == 0 and "copied to" in r.out
