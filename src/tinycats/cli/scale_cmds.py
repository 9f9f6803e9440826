"""Commands for training at scale and sharing the results: ``tinycats publish``.

(Multi-GPU training is ``torchrun ... -m tinycats train ...`` and Modal is
``modal run -m tinycats.cloud.modal_app``: docs/training-at-scale.md.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli import common
from tinycats.cli.common import console
from tinycats.paths import repo_root


def publish_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (new or empty).",
                                      show_default=False)],
    generator: Annotated[Path | None, typer.Option(
        help="Generator run folder or checkpoint (ema.pt).", show_default=False)] = None,
    classifier: Annotated[Path | None, typer.Option(
        help="Classifier run folder or checkpoint (model.pt).", show_default=False)] = None,
    models: Annotated[Path, typer.Option(
        help="Exported ONNX files + manifest.json.")] = Path("web/public/models"),
    reports: Annotated[Path, typer.Option(help="Measured reports (*.json).")] = Path("reports"),
    license: Annotated[str, typer.Option(help="License id for the weights (Hub metadata).")
                       ] = "cc-by-sa-4.0",
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier publish in --out.")
                     ] = False,
    push: Annotated[str | None, typer.Option(
        "--push", metavar="REPO", help="Upload to this Hugging Face model repo (owner/name).",
        show_default=False)] = None,
    token: Annotated[str | None, typer.Option(
        help="Hugging Face token (default: $HF_TOKEN).", show_default=False)] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the Hub repo private.")
                       ] = False,
) -> None:
    """Write a folder ready for the Hugging Face Hub (safetensors, ONNX, manifest, model card)."""
    from tinycats.publish import publish, resolve_token
    from tinycats.publish import push as push_folder

    def in_checkout(p: Path) -> Path:
        return p if p.is_absolute() or p.exists() else repo_root() / p

    if push:
        resolve_token(token)  # fail before the work, not after it
    res = publish(out, generator=generator, classifier=classifier, models_dir=in_checkout(models),
                  reports_dir=in_checkout(reports), license=license, force=force)
    parts = [f"{len(res.weights)} safetensors", f"{len(res.onnx)} ONNX files",
             f"{len(res.reports)} reports"]
    console.print(f"wrote {out} ({', '.join(parts)}, README.md model card)")
    if push:
        url = push_folder(out, push, token=token, private=private)
        console.print(f"uploaded to {url}")


register = common.registrar({"app": {"publish": publish_cmd}})
