"""Build hooks; the project's metadata lives in pyproject.toml.

The wheel carries the shipped models, so ``tinycats classify`` / ``generate`` / ``serve`` work
from a plain ``pip install`` with no checkout and no network (docs/decisions/0008):

- ``web/public/models``: each model's default variant and a manifest that lists only those
  files (each checked against the checkout's manifest: size and sha256), stamped with every
  model's ``model_version`` and ``trained`` date;
- ``web/dist``: the built web app when it exists (``make web-build`` before building), without
  its own ``models/`` copy: ``tinycats serve`` serves the package's models at ``/models/``.

Both go to ``tinycats/_shipped/`` inside the package, laid out like the checkout
(``tinycats.paths``). The sdist carries the same files so a wheel built from it is the same.
An editable install (``make install``) copies nothing: the checkout has them. A training image
(the Modal app) needs no models: ``TINYCATS_BUNDLE=0`` builds the package without them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
# stdlib-only modules of the package (paths, the manifest reader), imported from the source
sys.path.insert(0, str(HERE / "src"))

from tinycats import paths  # noqa: E402
from tinycats.export import manifest as mf  # noqa: E402

#: a top-level note in the bundled manifest (runtimes ignore top-level keys they do not know)
BUNDLED_NOTE = ("the installed package's copy: each model's default variant only; the other "
                "variants are in the source repository and the release's files")


def bundle_plan(root: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The bundled manifest, and {path below the bundle root: source file} for every model file
    it lists and every file of the built web app (none when it is not built)."""
    models = root / paths.SHIPPED_MODELS
    man_path = models / mf.MANIFEST_NAME
    if not man_path.is_file():
        raise SystemExit(f"error: {man_path} is missing: the wheel carries the shipped models")
    manifest = mf.load(man_path)
    files: dict[str, Path] = {}
    for key, entry in manifest["models"].items():
        for field, value in mf.release_fields(entry).items():
            entry.setdefault(field, value)
        try:
            src, fe = mf.resolve_file(man_path, entry)  # the default variant, size + sha256
        except mf.TinycatsError as e:
            raise SystemExit(f"error: the {key} model cannot be bundled: {e}") from None
        variant = next(v for v, f in entry["files"].items() if f is fe)
        entry["files"] = {variant: fe}
        entry["default_variant"] = variant
        files[f"{paths.SHIPPED_MODELS}/{fe['file']}"] = src
    manifest["bundled"] = BUNDLED_NOTE
    app = root / paths.WEB_APP
    if (app / "index.html").is_file():
        for f in sorted(app.rglob("*")):
            rel = f.relative_to(app)
            if f.is_file() and rel.parts[0] != "models" and not rel.name.startswith("."):
                files[f"{paths.WEB_APP}/{rel.as_posix()}"] = f
    return manifest, files


def write_bundle(dest: Path, manifest: dict[str, Any] | None, files: dict[str, Path]) -> None:
    for rel, src in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    if manifest is not None:
        out = dest / paths.SHIPPED_MODELS / mf.MANIFEST_NAME
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(manifest, indent=2) + "\n")


class BuildPyWithModels(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the checkout's own web/public/models and web/dist are found first
        if os.environ.get("TINYCATS_BUNDLE") == "0":
            print("TINYCATS_BUNDLE=0: building without the models and the web app")
            return
        manifest, files = bundle_plan(HERE)
        dest = Path(self.build_lib) / "tinycats" / paths.BUNDLE
        shutil.rmtree(dest, ignore_errors=True)  # nothing stale from an earlier build
        write_bundle(dest, manifest, files)
        mb = sum(p.stat().st_size for p in files.values()) / 1e6
        print(f"bundled {len(files)} files ({mb:.1f} MB) into tinycats/{paths.BUNDLE}")


class SdistWithModels(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        _, bundle = bundle_plan(HERE)
        # the checkout's manifest as it is: the wheel built from this sdist prunes it the same way
        bundle[f"{paths.SHIPPED_MODELS}/{mf.MANIFEST_NAME}"] = (
            HERE / paths.SHIPPED_MODELS / mf.MANIFEST_NAME)
        write_bundle(Path(base_dir), None, bundle)


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithModels, "sdist": SdistWithModels})
