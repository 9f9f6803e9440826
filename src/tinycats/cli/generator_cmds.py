"""Generator commands: train, eval, export, generate, bench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tinycats.cli.common import DataDirOpt, console, fail, progress_bar, resolve_data_dir
from tinycats.paths import repo_root, runs_dir, shipped_models_dir

if TYPE_CHECKING:  # the CLI imports torch-side modules only inside the commands that need them
    from tinycats.data.cam_crops import Crop
    from tinycats.generator.config import GeneratorConfig
    from tinycats.generator.data import GenData

DEFAULT_CONFIG = "configs/generator-64-cpu.yaml"


def load_recipe(config: Path) -> GeneratorConfig:
    """A generator recipe; a relative path is also looked up in the checkout."""
    from tinycats.config import load_yaml
    from tinycats.generator.config import GeneratorConfig

    if not config.exists() and (repo_root() / config).exists():
        config = repo_root() / config
    return load_yaml(GeneratorConfig, config)


def _with_repa_targets(data: GenData, cfg: GeneratorConfig, root: Path) -> GenData:
    """Encoder tokens for REPA (generator/repa.py), computed once with a progress bar, then
    read from <data>/cache/repa."""
    from tinycats.generator.data import attach_targets

    n = data.images.shape[0] + (0 if data.extra is None else data.extra.shape[0])
    with progress_bar(f"REPA targets ({cfg.repa.encoder})", n) as bar:
        return attach_targets(data, cfg.repa, cfg.model.grid, root / "cache" / "repa",
                              lambda k: bar.update(bar.task_ids[0], advance=k))


def _face_crops_with_progress(root: Path, size: int, crop: Crop) -> None:
    """Face crops (data/face_crops.py) detect once in every Oxford photo, a few minutes: done
    here with a progress bar, so the loaders that follow find them cached."""
    if crop.kind != "face":
        return
    from tinycats.data import cache
    from tinycats.data.face_crops import cached_detections, load_detections, load_face_crops

    man = cache.cache_path(root, "oxford", size) / "manifest.json"
    if man.exists() and "crop" in json.loads(man.read_text()):
        return  # a data pack: its images are cropped already (load_cropped_oxford checks how)
    if cached_detections(root) is None:
        with progress_bar("finding cat faces", None) as bar:
            load_detections(root, log=console.print, progress=lambda i, n: bar.update(
                bar.task_ids[0], completed=i, total=n))
    load_face_crops(root, size, crop.margin, log=console.print)


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
    budget_minutes: Annotated[float | None, typer.Option(
        help="Size the schedule to this many minutes on this machine (measured speed).")] = None,
    init_from: Annotated[Path | None, typer.Option(
        "--init-from", help="Start a new run from these weights: an exported generator-fp32.onnx"
        " (e.g. the shipped one) or an ema.pt/last.pt of the same model.")] = None,
) -> None:
    """Train TinyDiT with flow matching (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.generator.data import load_gen_data
    from tinycats.generator.train import replace, train

    cfg = load_recipe(config)
    overrides: dict[str, object] = {}
    if steps is not None:  # an explicit step count replaces a recipe's time budget
        overrides["steps"] = steps
        overrides["budget_minutes"] = None
    if budget_minutes is not None:
        overrides["budget_minutes"] = budget_minutes
    if max_minutes is not None:
        overrides["max_minutes"] = max_minutes
    if overrides:
        cfg = replace(cfg, **overrides)
    root = resolve_data_dir(data_dir)
    _face_crops_with_progress(root, cfg.data.size, cfg.data.crop_spec())
    data = load_gen_data(root, cfg.data)
    if cfg.repa.weight > 0:
        data = _with_repa_targets(data, cfg, root)
    out = run_dir or runs_dir(root) / cfg.name
    init_state = None
    if init_from is not None and (fresh or not (out / "last.pt").exists()):
        from tinycats.generator.warm_start import load_init_state

        console.print(f"reading the starting weights from {init_from} (checked against it)")
        init_state = load_init_state(init_from, cfg.model)
    elif init_from is not None:
        console.print(f"{out / 'last.pt'} exists: resuming it, --init-from is not read "
                      "(add --fresh to start over from it)")
    summary = train(cfg, data, out, device=device, resume=not fresh, log=console.print,
                    init_state=init_state,
                    init_from=None if init_from is None else str(init_from))
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
    shift: Annotated[float | None, typer.Option(help="Time-grid shift, > 1 spends more steps "
                     "near noise (default: manifest).")] = None,
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
        x = gen.sample(noise, y, steps=steps, cfg_scale=cfg, solver=solver, shift=shift,
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
    steps: Annotated[int | None, typer.Option(help="Default sampler steps written to the "
                     "manifest (default: the recipe's).")] = None,
    cfg: Annotated[float | None, typer.Option("--cfg", help="Default guidance scale (default: "
                   "the recipe's).")] = None,
    solver: Annotated[str | None, typer.Option(help="Default solver, euler or heun (default: "
                      "the recipe's).")] = None,
    shift: Annotated[float | None, typer.Option(help="Default time-grid shift (default: the "
                     "recipe's).")] = None,
) -> None:
    """Export the generator's EMA weights to ONNX (fp32/fp16/int8), parity-checked."""
    from tinycats.export.generator_onnx import export_generator

    ck = checkpoint or runs_dir(resolve_data_dir(data_dir)) / "generator-64-cpu" / "ema.pt"
    if not ck.exists():
        from tinycats.cli.common import fail

        raise fail(f"checkpoint {ck} does not exist; train first or pass --checkpoint")
    dest = out or shipped_models_dir()
    overrides = {k: v for k, v in {"steps": steps, "cfg_scale": cfg, "solver": solver,
                                   "shift": shift}.items()
                 if v is not None}
    entry = export_generator(ck, dest, variants=tuple(v.strip() for v in variants.split(",")),
                             sampler=overrides)
    for name, fe in entry["files"].items():
        console.print(f"{name}: {fe['file']} {fe['bytes'] / 1e6:.1f} MB, max |onnx - torch| "
                      f"{fe['parity_vs_torch']['max_abs_diff']:.2e}")
    console.print(f"manifest: {dest / 'manifest.json'}")


def eval_generator(
    model_dir: ModelDirOpt = None,
    data_dir: DataDirOpt = None,
    n_per_breed: Annotated[int, typer.Option(help="Samples per breed.")] = 32,
    steps: Annotated[int | None, typer.Option(help="Sampler steps (default: manifest).")] = None,
    cfg: Annotated[float | None, typer.Option("--cfg", help="Guidance scale (default: "
                   "manifest).")] = None,
    solver: Annotated[str | None, typer.Option(help="euler or heun (default: manifest).")
                      ] = None,
    shift: Annotated[float | None, typer.Option(help="Time-grid shift, > 1 spends more steps "
                     "near noise (default: manifest).")] = None,
    variant: Annotated[str | None, typer.Option(help="Generator variant to measure.")] = None,
    seed: Annotated[int, typer.Option(help="Base noise seed.")] = 1234,
    with_fid: Annotated[bool, typer.Option("--fid/--no-fid", help="Compute FID/KID (slow).")
                        ] = True,
    report_dir: Annotated[Path, typer.Option(help="Where the JSON report and grids go.")
                          ] = Path("reports"),
    update_manifest: Annotated[bool, typer.Option(
        help="Store the figures in the manifest's generator entry (default variant only).")
                               ] = True,
) -> None:
    """FID/KID vs the Oxford test split, breed accuracy by the shipped classifier,
    memorisation distances and sample grids, measured on the exported ONNX model."""
    from rich.progress import Progress

    from tinycats.cli.common import err_console
    from tinycats.export import manifest as mf
    from tinycats.generator.evaluate import GenEvalConfig, evaluate_generator

    mdir = model_dir or shipped_models_dir()
    root = resolve_data_dir(data_dir)
    if report_dir == Path("reports") and not report_dir.exists():
        report_dir = repo_root() / "reports"
    ecfg = GenEvalConfig(n_per_breed=n_per_breed, steps=steps, cfg_scale=cfg, solver=solver,
                         shift=shift, seed=seed, variant=variant, fid=with_fid)
    from tinycats.generator.evaluate import training_crop
    from tinycats.runtime.sample import MODEL_KEY

    gen_entry = mf.model_entry(mf.load(mdir / "manifest.json"), MODEL_KEY)
    _face_crops_with_progress(root, int(gen_entry["image_size"]), training_crop(gen_entry))
    with Progress(console=err_console, transient=True) as prog:
        tasks: dict[str, object] = {}

        def on_progress(stage: str, i: int, n: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=n)
            prog.update(tasks[stage], completed=i)  # type: ignore[arg-type]

        rep = evaluate_generator(mdir, root, ecfg, report_dir=report_dir, log=console.print,
                                 progress=on_progress)
    ba = rep["breed_accuracy"]
    console.print(f"breed accuracy: mean {ba['mean']:.1%}, min {ba['min']:.1%} "
                  f"(classifier on real 64px test cats: {ba['classifier_on_real_test_64px']:.1%})")
    for k, v in ba["per_breed"].items():
        console.print(f"  {k:18s} {v:.1%}")
    if rep["fid"]["value"] is not None:
        console.print(f"FID {rep['fid']['value']:.1f} (N={rep['fid']['n_samples']} vs "
                      f"{rep['fid']['n_real']} test cats; real-vs-real reference "
                      f"{rep['fid']['real_vs_real_reference']:.1f}); "
                      f"KID {rep['kid']['mean']:.4f}")
    console.print(f"report: {report_dir}")
    man_path = mdir / "manifest.json"
    entry = mf.model_entry(mf.load(man_path), "generator")
    if (update_manifest and with_fid
            and rep["model"]["variant"] == entry.get("default_variant", "fp32")):
        metrics = {"breed_accuracy_mean": ba["mean"], "breed_accuracy_min": ba["min"],
                   "fid": rep["fid"]["value"], "fid_n_samples": rep["fid"]["n_samples"],
                   "kid": rep["kid"]["mean"], "sampler": rep["sampler"],
                   "measured_by": "tinycats eval generator"}
        entry["metrics"] = metrics
        mf.update_model(man_path, "generator", entry)


def export_golden(
    model_dir: ModelDirOpt = None,
    out: Annotated[Path | None, typer.Option(help="JSON file (default: "
                   "tests/golden/generator.json).")] = None,
) -> None:
    """Write golden vectors (noise, model outputs, Euler/Heun+CFG samples) for parity tests."""
    from tinycats.export.golden import write_golden

    dest = out or repo_root() / "tests" / "golden" / "generator.json"
    g = write_golden((model_dir or shipped_models_dir()) / "manifest.json", dest)
    console.print(f"wrote {dest} ({dest.stat().st_size / 1e3:.0f} kB) for {g['model']['file']}")


def export_generator_int8(model_dir: ModelDirOpt = None) -> None:
    """Rebuild the exported generator's int8 file from its fp32 ONNX (smoothed activations,
    per-channel 7-bit weights; no checkpoint needed) and update the manifest."""
    from tinycats.export.int8_generator import requantize

    entry = requantize(model_dir or shipped_models_dir())
    fe = entry["files"]["int8"]
    console.print(f"int8: {fe['file']} {fe['bytes'] / 1e6:.1f} MB, max |int8 - fp32 ONNX| "
                  f"{fe['parity_vs_fp32_onnx']['max_abs_diff']:.3f} (mean "
                  f"{fe['parity_vs_fp32_onnx']['mean_abs_diff']:.4f}); measure it with "
                  "`tinycats eval generator --variant int8`")


def export_sampler_defaults(
    model_dir: ModelDirOpt = None,
    steps: Annotated[int | None, typer.Option(help="Default sampler steps.")] = None,
    cfg: Annotated[float | None, typer.Option("--cfg", help="Default guidance scale.")] = None,
    solver: Annotated[str | None, typer.Option(help="Default solver, euler or heun.")] = None,
    shift: Annotated[float | None, typer.Option(help="Default time-grid shift.")] = None,
) -> None:
    """Change the exported generator's default sampler settings in its manifest (no
    re-export); its stored metrics are dropped: measure them with `tinycats eval generator`."""
    from tinycats.export.generator_onnx import set_sampler_defaults

    overrides = {k: v for k, v in {"steps": steps, "cfg_scale": cfg, "solver": solver,
                                   "shift": shift}.items() if v is not None}
    if not overrides:
        from tinycats.cli.common import fail

        raise fail("nothing to change: pass --steps, --cfg, --solver and/or --shift")
    from tinycats.export import manifest as mf

    man = (model_dir or shipped_models_dir()) / "manifest.json"

    def text(sd: dict[str, object]) -> str:
        return (f"{sd['solver']}, {sd['default_steps']} steps, CFG {sd['default_cfg_scale']}, "
                f"shift {sd['shift']}")

    before = text(mf.model_entry(mf.load(man), "generator")["sampler"])
    after = text(set_sampler_defaults(man, overrides)["sampler"])
    if after == before:
        console.print(f"default sampler unchanged: {after}")
        return
    console.print(f"default sampler: {after} (was {before}); the manifest's metrics were "
                  "measured at the old defaults and were removed: run `tinycats eval generator` "
                  "to measure the new ones")


def bench_generator(
    model_dir: ModelDirOpt = None,
    variants: Annotated[str, typer.Option(help="Comma-separated variants to time.")
                        ] = "fp32,int8",
    runs: Annotated[int, typer.Option(help="Timed network calls per setting.")] = 30,
    warmup: Annotated[int, typer.Option(help="Untimed calls first.")] = 10,
    threads: Annotated[int | None, typer.Option(help="onnxruntime intra-op threads.")] = None,
    images: Annotated[int, typer.Option(help="Whole images timed per variant.")] = 3,
) -> None:
    """Per-step latency (batch 1, and 2 = one CFG step) and whole-image time, per variant."""
    import platform
    import statistics
    import time

    import numpy as np
    from rich.table import Table

    from tinycats.runtime.sample import Generator, initial_noise

    mdir = model_dir or shipped_models_dir()
    table = Table(title=f"generator, onnxruntime CPU, {platform.machine()}, "
                        f"threads={threads or 'default'}")
    for col in ("variant", "batch", "median ms/call", "p90 ms/call", "image (default sampler) s"):
        table.add_column(col)
    for v in [v.strip() for v in variants.split(",") if v.strip()]:
        gen = Generator(mdir / "manifest.json", variant=v, threads=threads)
        img_s: list[float] = []
        for _ in range(images):
            t0 = time.perf_counter()
            gen.sample(initial_noise(0, 1, gen.size), gen.one_hot([0]))
            img_s.append(time.perf_counter() - t0)
        for b in (1, 2):
            x = initial_noise(1, b, gen.size)
            t = np.full((b,), 0.5, np.float32)
            y = gen.one_hot([0] * b)
            for _ in range(warmup):
                gen.denoise(x, t, y)
            ms = []
            for _ in range(runs):
                t0 = time.perf_counter()
                gen.denoise(x, t, y)
                ms.append((time.perf_counter() - t0) * 1e3)
            ms.sort()
            table.add_row(v, str(b), f"{statistics.median(ms):.2f}",
                          f"{ms[int(0.9 * (len(ms) - 1))]:.2f}",
                          f"{statistics.median(img_s):.2f}" if b == 1 else "")
    sd = gen.sampler
    console.print(table)
    console.print(f"default sampler: {sd['solver']}, {sd['default_steps']} steps, "
                  f"CFG {sd['default_cfg_scale']} (batch 2 per call)")


def pack_generator(
    out: Annotated[Path, typer.Option(help="New data folder to write (replaced if present).")],
    data_dir: DataDirOpt = None,
    size: Annotated[int, typer.Option(help="Image size of the caches to pack.")] = 64,
    any_cat_limit: Annotated[int, typer.Option(help="Unlabeled cat faces to include.")] = 1500,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Recipe whose data.crop the pack follows (default: centre crops)."
    )] = None,
    jpeg_quality: Annotated[int | None, typer.Option(
        min=1, max=100, help="Store images as JPEG of this quality (~3x smaller at 95; "
        "default: raw arrays, exact)."
    )] = None,
    max_mb: Annotated[float | None, typer.Option(
        help="Refuse a pack larger than this many MB (a device's or upload's limit)."
    )] = None,
) -> None:
    """Write a compact data folder with only what generator training reads (for a GPU box)."""
    from tinycats.data.cam_crops import Crop
    from tinycats.generator.pack import pack_generator_data

    crop = Crop()
    if config is not None:
        d = load_recipe(config).data
        crop = d.crop_spec()
    root = resolve_data_dir(data_dir)
    _face_crops_with_progress(root, size, crop)
    total = pack_generator_data(root, out, size, any_cat_limit, crop, jpeg_quality)
    if max_mb is not None and total > max_mb * 1e6:
        raise fail(f"the pack at {out} is {total / 1e6:.1f} MB, over --max-mb {max_mb:g}: "
                   f"pack fewer faces (--any-cat-limit) or a lower --jpeg-quality")
    console.print(f"wrote {out} ({total / 1e6:.1f} MB); train with --data-dir {out}")


def register(*, app: typer.Typer, data: typer.Typer, train: typer.Typer, eval: typer.Typer,
             export: typer.Typer, bench: typer.Typer) -> None:
    train.command("generator")(train_generator)
    data.command("pack-generator")(pack_generator)
    export.command("generator")(export_generator_cmd)
    export.command("golden")(export_golden)
    export.command("sampler-defaults")(export_sampler_defaults)
    export.command("generator-int8")(export_generator_int8)
    app.command("generate")(generate)
    eval.command("generator")(eval_generator)
    bench.command("generator")(bench_generator)
