"""``tinycats publish``: a folder ready for the Hugging Face Hub, and optionally the upload.

The folder holds:

- ``generator.safetensors`` / ``classifier.safetensors``: the weights used for sampling and
  inference (the generator's EMA, ``ema.pt``; the classifier's kept model, ``model.pt``, the
  better of its weights and their EMA on validation), with the training recipe, step and kind in
  the safetensors metadata and beside it in ``<model>.config.json``;
- the exported ONNX files and ``manifest.json`` (copied unchanged from the export folder, after
  checking every file's size and sha256 against the manifest, so the runtimes accept them);
- ``reports/``: the measured reports (``reports/*.json``), copied as they are;
- ``README.md``: the model card, written from what was measured (manifest metrics, reports,
  checkpoint summaries); where nothing was measured the card says so instead of a number.

``--push owner/name`` uploads the folder with ``huggingface_hub`` (token from ``--token``,
``HF_TOKEN`` or ``HUGGING_FACE_HUB_TOKEN``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinycats import __version__
from tinycats.breeds import BREEDS
from tinycats.errors import TinycatsError
from tinycats.export import manifest as mf

MARKER = ".tinycats-publish"
DEFAULT_LICENSE = "cc-by-sa-4.0"
TOKEN_ENVS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
#: which file of a run folder holds the weights to publish, per model
RUN_FILES = {"generator": ("ema.pt", "last.pt"), "classifier": ("model.pt", "last.pt")}


class PublishError(TinycatsError):
    pass


@dataclass
class Weights:
    kind: str  # "generator" or "classifier"
    source: Path
    step: int | None
    config: dict[str, Any]
    summary: dict[str, Any]
    params: int
    file: str


@dataclass
class Published:
    out: Path
    weights: list[Weights] = field(default_factory=list)
    onnx: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None


def resolve_checkpoint(kind: str, path: Path) -> Path:
    if path.is_dir():
        for name in RUN_FILES[kind]:
            if (path / name).exists():
                return path / name
        raise PublishError(f"{path} holds no {' or '.join(RUN_FILES[kind])} for the {kind}")
    if not path.exists():
        raise PublishError(f"{kind} checkpoint {path} does not exist")
    return path


def write_safetensors(kind: str, ckpt_path: Path, out: Path) -> Weights:
    """The checkpoint's EMA (or kept) weights as ``<kind>.safetensors`` + ``<kind>.config.json``."""
    from safetensors.torch import save_file

    from tinycats.training import checkpoint

    ck = checkpoint.load(ckpt_path)
    state = ck["ema"] if ck.get("ema") is not None else ck["model"]
    found = str(ck.get("kind", ""))
    if found and not found.startswith(kind):
        raise PublishError(f"{ckpt_path} is a {found} checkpoint, not a {kind} one")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    config = ck.get("config") or {}
    info = {"kind": kind, "step": ck.get("step"), "source": ckpt_path.name,
            "weights": "ema" if ck.get("ema") is not None or found.endswith("-ema")
            else str(ck.get("weights", "model")),
            "tinycats": __version__, "config": config}
    name = f"{kind}.safetensors"
    save_file(tensors, str(out / name),
              metadata={k: json.dumps(v) if not isinstance(v, str) else v
                        for k, v in info.items()})
    (out / f"{kind}.config.json").write_text(json.dumps(info, indent=2) + "\n")
    return Weights(kind, ckpt_path, ck.get("step"), config, dict(ck.get("summary") or {}),
                   sum(int(t.numel()) for t in tensors.values()), name)


def copy_models(models_dir: Path, out: Path) -> tuple[dict[str, Any], list[str]]:
    """Copy manifest.json and every file it lists, each verified against its sha256."""
    man_path = models_dir / mf.MANIFEST_NAME
    manifest = mf.load(man_path)
    copied: list[str] = []
    for entry in manifest.get("models", {}).values():
        for variant in entry.get("files", {}):
            src, fe = mf.resolve_file(man_path, entry, variant)
            dst = out / fe["file"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied.append(fe["file"])
            extra = src.with_name(src.name + ".data")  # weights the exporter kept outside
            if extra.exists():
                shutil.copy2(extra, dst.with_name(dst.name + ".data"))
                copied.append(fe["file"] + ".data")
    shutil.copy2(man_path, out / mf.MANIFEST_NAME)
    return manifest, copied


def load_reports(reports_dir: Path | None) -> dict[str, Any]:
    if reports_dir is None or not reports_dir.is_dir():
        return {}
    out: dict[str, Any] = {}
    for p in sorted(reports_dir.glob("*.json")):
        try:
            out[p.name] = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise PublishError(f"report {p} is not valid JSON: {e}") from e
    return out


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise PublishError(f"{out} is not empty and was not written by tinycats publish; "
                               "choose an empty or new folder")
        if not force:
            raise PublishError(f"{out} holds an earlier publish; pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(f"tinycats {__version__}\n")


def publish(out: Path, *, generator: Path | None = None, classifier: Path | None = None,
            models_dir: Path | None = None, reports_dir: Path | None = None,
            license: str = DEFAULT_LICENSE, force: bool = False) -> Published:
    """Write the folder; raise PublishError (one line) on bad input."""
    has_models = models_dir is not None and (models_dir / mf.MANIFEST_NAME).exists()
    if generator is None and classifier is None and not has_models:
        raise PublishError("nothing to publish: pass --generator and/or --classifier "
                           f"checkpoints, or export ONNX models first (no manifest in "
                           f"{models_dir})")
    ckpts = {k: resolve_checkpoint(k, p) for k, p in
             (("generator", generator), ("classifier", classifier)) if p is not None}
    reports = load_reports(reports_dir)
    _prepare_out(out, force)
    res = Published(out)
    for kind, path in ckpts.items():
        res.weights.append(write_safetensors(kind, path, out))
    if has_models:
        assert models_dir is not None
        res.manifest, res.onnx = copy_models(models_dir, out)
    if reports:
        (out / "reports").mkdir()
        for name, data in reports.items():
            (out / "reports" / name).write_text(json.dumps(data, indent=2) + "\n")
        res.reports = sorted(reports)
    gen_samples = _sample_grid(ckpts.get("generator"))
    if gen_samples is not None:
        shutil.copy2(gen_samples, out / "generator-samples.png")
    card = model_card(res, reports, license=license,
                      samples="generator-samples.png" if gen_samples else None)
    (out / "README.md").write_text(card)
    return res


def _sample_grid(ckpt: Path | None) -> Path | None:
    if ckpt is None:
        return None
    grid = ckpt.parent / "samples" / "final.png"
    return grid if grid.exists() else None


# ----------------------------------------------------------------------------- model card

def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested report -> [("a.b.c", value)] for scalars and short numeric lists."""
    if isinstance(d, dict):
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}{k}.")
        return out
    key = prefix.rstrip(".")
    if isinstance(d, int | float | str | bool) or d is None:
        return [(key, d)]
    if isinstance(d, list) and len(d) <= 13 and all(isinstance(x, int | float) for x in d):
        return [(key, d)]
    return []


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[tuple[str, Any]], limit: int = 40) -> list[str]:
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"| ... | {len(rows) - limit} more in the report file |")
    return lines


def model_card(res: Published, reports: dict[str, Any], *, license: str,
               samples: str | None) -> str:
    models = res.manifest.get("models", {}) if res.manifest else {}
    kinds = sorted({w.kind for w in res.weights} | set(models))
    tags = ["onnx", "safetensors", "cats", "tinycats"]
    if "classifier" in kinds:
        tags += ["image-classification"]
    if "generator" in kinds:
        tags += ["image-generation", "diffusion-transformer", "flow-matching"]
    front = ["---", f"license: {license}"]
    if res.onnx:
        front.append("library_name: onnx")
    front.append("tags:")
    front += [f"- {t}" for t in tags]
    if kinds == ["classifier"]:
        front.append("pipeline_tag: image-classification")
    front.append("---")
    breeds = ", ".join(b.display for b in BREEDS)
    L: list[str] = [*front, "", "# tinycats", ""]
    L += ["Small models for cats, made to run on your own device (browser or CLI, ONNX Runtime):",
          ""]
    if "classifier" in kinds:
        L.append(f"- **classifier**: a photo -> one of 12 cat breeds ({breeds}) or `other` "
                 "(not a cat), with class activation maps.")
    if "generator" in kinds:
        L.append("- **generator**: a TinyDiT (diffusion transformer, flow matching) that draws "
                 "a cat of a chosen breed (or `any_cat`) with classifier-free guidance.")
    L += ["", "## Files", "", "| file | what |", "|---|---|"]
    for w in res.weights:
        L.append(f"| `{w.file}` | {w.kind} weights ({w.params / 1e6:.2f}M parameters, step "
                 f"{w.step}), PyTorch state dict in safetensors; recipe in "
                 f"`{w.kind}.config.json` |")
    for f in res.onnx:
        L.append(f"| `{f}` | ONNX model (see `manifest.json`) |")
    if res.manifest:
        L.append("| `manifest.json` | labels, input size and normalisation, sampler defaults, "
                 "sizes and sha256 of every model file: the runtimes read only this |")
    for r in res.reports:
        L.append(f"| `reports/{r}` | measured report |")
    if samples:
        L += ["", f"![samples from the generator]({samples})"]

    L += ["", "## Training data", "",
          "[Oxford-IIIT Pet](https://www.robots.ox.ac.uk/~vgg/data/pets/) (Parkhi et al., "
          "CVPR 2012): the 12 cat breeds (about 200 photos each)"
          + (", and the dog photos as the classifier's `other` class" if "classifier" in kinds
             else "")
          + ". The official trainval/test split is kept; a validation set is carved from "
          "trainval; the test split is never trained on. The images are licensed CC BY-SA "
          "4.0 by their owners."]
    for w in res.weights:
        counts = w.summary.get("per_class_images")
        if isinstance(counts, dict) and counts:
            L += ["", f"Images the {w.kind} was trained on, per class: "
                  + ", ".join(f"{k} {v}" for k, v in counts.items()) + "."]

    crop = (models.get("generator") or {}).get("data", {}).get("crop", "centre")
    if crop == "face":
        L += ["", "The generator's breed photos are cut around the cat's face that OpenCV's "
              "frontal cat-face detector finds; photos without a detected face are not used."]

    L += ["", "## Measured results", ""]
    measured = False
    for key in sorted(models):
        rows = _flatten(models[key].get("metrics") or {})
        if rows:
            measured = True
            L += [f"### {key} (from manifest.json)", "", *_table(rows), ""]
    for name, data in reports.items():
        rows = [(k, v) for k, v in _flatten(data) if not isinstance(v, str) or len(v) < 80]
        if rows:
            measured = True
            L += [f"### {name}", "", *_table(rows), ""]
    if not measured:
        L += ["No measured report was found when this card was written: there are no numbers "
              "here rather than unmeasured ones. Run `tinycats eval ...` and publish again.", ""]

    L += ["## Intended use", "",
          "Learning, demos and fun with cat photos on your own device: naming the breed of a "
          "pet cat in a photo, and drawing small breed-conditioned cat pictures.", "",
          "## Limitations", ""]
    if "classifier" in kinds:
        L += ["- The classifier knows only the 12 Oxford-IIIT Pet cat breeds; a mixed-breed or "
              "other-breed cat still gets one of them. `other` was learned from dog photos "
              "only, so other animals and objects may be called a cat breed.",
              "- Breed is judged from looks in one photo: not a pedigree, health or "
              "veterinary statement. Accuracy drops on photos unlike the dataset's (drawings, "
              "night-vision, heavy filters, very small cats in the frame)."]
    if "generator" in kinds:
        L += ["- The generator draws small, low-resolution pictures "
              f"({_gen_size(res, models)} pixels) learned from about 200 photos per breed; "
              "breeds with similar looks can blend, and images can show artifacts. Its "
              "pictures are not photos of real cats and must not be passed off as such."]
    L += ["- The training photos come from the web and carry its biases (mostly pet cats in "
          "homes, breeds as photographed by their owners).", "",
          "## License", "",
          f"The weights are published under `{license}` (the training images are CC BY-SA "
          "4.0); the tinycats code is MIT.", "",
          "## Citation", "", "```bibtex",
          "@InProceedings{parkhi12a,",
          '  author    = "Parkhi, O. M. and Vedaldi, A. and Zisserman, A. and Jawahar, C. V.",',
          '  title     = "Cats and Dogs",',
          '  booktitle = "IEEE Conference on Computer Vision and Pattern Recognition",',
          '  year      = "2012",', "}", "```", "",
          f"Written by `tinycats publish` (tinycats {__version__}).", ""]
    return "\n".join(L)


def _gen_size(res: Published, models: dict[str, Any]) -> str:
    size = models.get("generator", {}).get("image_size")
    for w in res.weights:
        if w.kind == "generator" and size is None:
            size = (w.config.get("model") or {}).get("image_size")
    return f"{size}x{size}" if size else "small"


# ----------------------------------------------------------------------------- upload

def resolve_token(token: str | None) -> str:
    for t in (token, *(os.environ.get(e) for e in TOKEN_ENVS)):
        if t:
            return t
    raise PublishError("--push needs a Hugging Face token: pass --token or set HF_TOKEN")


def push(out: Path, repo: str, *, token: str | None = None, private: bool = False) -> str:
    """Upload the published folder to the Hub model repo ``repo`` (created if missing)."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", repo):
        raise PublishError(f"--push takes a Hub repo id like owner/name, not {repo!r}")
    if not (out / MARKER).exists():
        raise PublishError(f"{out} is not a tinycats publish folder")
    tok = resolve_token(token)
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise PublishError("--push needs huggingface_hub: pip install huggingface-hub") from None
    api = HfApi(token=tok)
    try:
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo, folder_path=out, repo_type="model",
                                 ignore_patterns=[MARKER],
                                 commit_message=f"tinycats publish ({__version__})")
    except Exception as e:  # network, auth, permissions: one line, not a trace
        raise PublishError(f"upload to {repo} failed: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}") from e
    return str(getattr(info, "commit_url", "") or f"https://huggingface.co/{repo}")
