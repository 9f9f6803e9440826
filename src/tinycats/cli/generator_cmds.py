"""Generator commands: train, eval, export, generate, bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tinycats.cli.common import DataDirOpt, console, resolve_data_dir
from tinycats.paths import repo_root, runs_dir, shipped_models_dir

DEFAULT_CONFIG = "configs/generator-64-cpu.yaml"


def train_generator(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML.")] = Path(
        DEFAULT_CONFIG),
    data_dir: DataDirOpt = None,
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (default: <data>/runs/<name>).")
                       ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore an existing checkpoint.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    steps: Annotated[int | None, typer.Option(help="Override the recipe's step count.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Override the wall-time limit.")
                           ] = None,
) -> None:
    """Train TinyDiT with flow matching (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.config import load_yaml
    from tinycats.generator.config import GeneratorConfig
    from tinycats.generator.data import load_gen_data
    from tinycats.generator.train import replace, train

    if not config.exists() and (repo_root() / config).exists():
        config = repo_root() / config
    cfg = load_yaml(GeneratorConfig, config)
    overrides: dict[str, object] = {}
    if steps is not None:
        overrides["steps"] = steps
    if max_minutes is not None:
        overrides["max_minutes"] = max_minutes
    if overrides:
        cfg = replace(cfg, **overrides)
    root = resolve_data_dir(data_dir)
    data = load_gen_data(root, cfg.data)
    out = run_dir or runs_dir(root) / cfg.name
    summary = train(cfg, data, out, device=device, resume=not fresh, log=console.print)
    console.print(f"done: {summary['step']} steps, EMA weights in {out / 'ema.pt'}")


ModelDirOpt = Annotated[Path | None, typer.Option(
    "--model-dir", help="Folder with manifest.json + ONNX files (default: the shipped models).",
    show_default=False)]


def _parse_mix(spec: str) -> list[tuple[str, float]]:
    parts = []
    for item in spec.split(","):
        name, sep, w = item.rpartition(":")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--mix wants Breed:weight,Breed:weight (got {item!r})")
        try:
            parts.append((name.strip(), float(w)))
        except ValueError:
            raise typer.BadParameter(f"weight {w!r} in --mix is not a number") from None
    return parts


def generate(
    breed: Annotated[str | None, typer.Option("--breed", "-b", help="Breed (display name, "
                     "leniently matched), or 'any cat'.")] = None,
    mix: Annotated[str | None, typer.Option(help="Blend breeds, e.g. Bengal:0.5,Siamese:0.5 "
                   "(interpolates the class embedding).")] = None,
    n: Annotated[int, typer.Option("-n", help="Number of cats.")] = 16,
    steps: Annotated[int | None, typer.Option(help="Sampler steps (default: manifest).")] = None,
    cfg: Annotated[float | None, typer.Option("--cfg", help="Guidance scale (default: "
                   "manifest).")] = None,
    solver: Annotated[str | None, typer.Option(help="euler or heun (default: manifest).")
                      ] = None,
    seed: Annotated[int, typer.Option(help="Noise seed: the same seed gives the same cats.")
                    ] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG grid.")] = Path("cats.png"),
    out_dir: Annotated[Path | None, typer.Option(help="Also write each cat as its own PNG here."
                       )] = None,
    upscale: Annotated[int, typer.Option(help="Nearest-neighbour upscale of the grid.")] = 2,
    variant: Annotated[str | None, typer.Option(help="Model variant: fp32, fp16, int8.")
                       ] = None,
    model_dir: ModelDirOpt = None,
) -> None:
    """Generate cats of a breed with the ONNX model (no torch needed)."""
    from rich.progress import Progress

    from tinycats.cli.common import err_console, fail
    from tinycats.grid import make_grid, save_png, to_uint8
    from tinycats.runtime.sample import Generator, initial_noise

    if (breed is None) == (mix is None):
        raise fail("give exactly one of --breed or --mix")
    if n < 1 or n > 1024:
        raise fail("-n must be between 1 and 1024")
    if upscale < 1 or upscale > 16:
        raise fail("--upscale must be between 1 and 16")
    mdir = model_dir or shipped_models_dir()
    gen = Generator(mdir / "manifest.json", variant=variant)
    if breed is not None:
        y = gen.one_hot([gen.class_id(breed)] * n)
        what = breed
    else:
        weights = {gen.class_id(name): w for name, w in _parse_mix(mix or "")}
        y = gen.mix(weights, n)
        what = mix or ""
    noise = initial_noise(seed, n, gen.size, gen.channels)
    total = int(steps if steps is not None else gen.sampler["default_steps"])
    with Progress(console=err_console, transient=True) as prog:
        task = prog.add_task(f"sampling {n} x {what}", total=total)
        x = gen.sample(noise, y, steps=steps, cfg_scale=cfg, solver=solver,
                       callback=lambda i, tot, _x: prog.update(task, completed=i))
    imgs = to_uint8(x)
    save_png(make_grid(imgs), output, upscale=upscale)
    if out_dir is not None:
        for i, im in enumerate(imgs):
            save_png(im, out_dir / f"cat-{seed}-{i:03d}.png", upscale=upscale)
    console.print(f"wrote {output} ({n} cats, {gen.variant}, seed {seed})")


def export_generator_cmd(
    checkpoint: Annotated[Path | None, typer.Option(help="EMA checkpoint (default: "
                          "<data>/runs/generator-64-cpu/ema.pt).")] = None,
    data_dir: DataDirOpt = None,
    out: Annotated[Path | None, typer.Option(help="Folder for ONNX + manifest.json (default: "
                   "the shipped models folder).")] = None,
    variants: Annotated[str, typer.Option(help="Comma-separated: fp32,fp16,int8.")
                        ] = "fp32,fp16,int8",
) -> None:
    """Export the generator's EMA weights to ONNX (fp32/fp16/int8), parity-checked."""
    from tinycats.export.generator_onnx import export_generator

    ck = checkpoint or runs_dir(resolve_data_dir(data_dir)) / "generator-64-cpu" / "ema.pt"
    if not ck.exists():
        from tinycats.cli.common import fail

        raise fail(f"checkpoint {ck} does not exist; train first or pass --checkpoint")
    dest = out or shipped_models_dir()
    entry = export_generator(ck, dest, variants=tuple(v.strip() for v in variants.split(",")))
    for name, fe in entry["files"].items():
        console.print(f"{name}: {fe['file']} {fe['bytes'] / 1e6:.1f} MB, max |onnx - torch| "
                      f"{fe['parity_vs_torch']['max_abs_diff']:.2e}")
    console.print(f"manifest: {dest / 'manifest.json'}")


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    train.command("generator")(train_generator)
    export.command("generator")(export_generator_cmd)
    app.command("generate")(generate)
