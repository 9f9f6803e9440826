"""Generator commands: train, eval, export, generate, bench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tinycats.cli import common
from tinycats.cli.common import console, progress_bar
from tinycats.errors import TinycatsError
from tinycats.paths import repo_root, shipped_models_dir
from tinycats.runtime.limits import MAX_CATS, MAX_CFG_SCALE, MAX_SEED, MAX_SHIFT, MAX_STEPS

if TYPE_CHECKING:  # the CLI imports torch-side modules only inside the commands that need them
    import numpy as np

    from tinycats.generator.config import GeneratorConfig
    from tinycats.generator.crops import Crop
    from tinycats.generator.evaluate import GenEvalConfig
    from tinycats.runtime.sample import Generator, SamplerSettings
    from tinycats.runtime.upscale import Upscaler

DEFAULT_CONFIG = "configs/generator.yaml"


def _recipe(config: Path, train_overrides: dict[str, object] | None = None
            ) -> GeneratorConfig:
    from tinycats.generator.config import GeneratorConfig

    return common.load_recipe(GeneratorConfig, config, train_overrides)


def _face_crops_with_progress(root: Path, size: int, crop: Crop) -> None:
    """Face crops (generator/face_crops.py) detect once in every Oxford photo, a few minutes: done
    here with a progress bar, so the loaders that follow find them cached."""
    if crop.kind != "face":
        return
    from tinycats.data import cache
    from tinycats.generator.face_crops import cached_detections, load_detections, load_face_crops

    man = cache.cache_path(root, "oxford", size) / "manifest.json"
    if man.exists() and "crop" in json.loads(man.read_text()):
        return  # a data pack: its images are cropped already (load_cropped_oxford checks how)
    if cached_detections(root) is None:
        with progress_bar("finding cat faces", None) as bar:
            load_detections(root, log=console.print, progress=lambda i, n: bar.update(
                bar.task_ids[0], completed=i, total=n))
    load_face_crops(root, size, crop.margin, log=console.print)


def train_generator(
    config: common.RecipeOpt = Path(DEFAULT_CONFIG),
    data_dir: common.DataDirOpt = None,
    run_dir: common.RunDirOpt = None,
    fresh: common.FreshOpt = False,
    device: common.DeviceOpt = "auto",
    steps: common.StepsOpt = None,
    max_minutes: common.MaxMinutesOpt = None,
    budget_minutes: common.BudgetMinutesOpt = None,
    init_from: Annotated[Path | None, typer.Option(
        "--init-from", help="Start a new run from these weights: an exported generator-fp32.onnx"
        " (e.g. the shipped one) or an ema.pt/last.pt of the same model.")] = None,
    start_step: Annotated[int, typer.Option(
        "--start-step", help="With --init-from: the weights come from this step of the same"
        " recipe's run; continue its schedule from there (fresh optimizer moments).")] = 0,
) -> None:
    """Train TinyDiT with flow matching (resumes from <run-dir>/last.pt unless --fresh)."""
    from tinycats.generator.data import load_gen_data
    from tinycats.generator.train import train

    if start_step and init_from is None:
        raise TinycatsError("--start-step continues a run from weights: give them with --init-from")
    cfg = _recipe(config, common.schedule_overrides(steps, budget_minutes, max_minutes))
    root = common.resolve_data_dir(data_dir)
    _face_crops_with_progress(root, cfg.data.size, cfg.data.crop_spec())
    data = load_gen_data(root, cfg.data)
    out = common.run_folder(root, cfg.name, run_dir)
    from tinycats.generator.warm_start import load_init_state

    init_state = common.warm_start(init_from, out, fresh,
                                   lambda path: load_init_state(path, cfg.model))
    cut = None
    if cfg.train.track_every:
        from tinycats.generator.near_copies import near_copy_cut

        cut = near_copy_cut(root, cfg.data.size, cfg.data.crop_spec())
    summary = train(cfg, data, out, device=device, resume=not fresh, log=console.print,
                    init_state=init_state,
                    init_from=None if init_from is None else str(init_from),
                    start_step=start_step, near_copy_cut=cut)
    console.print(f"done: {summary['step']} steps, EMA weights in {out / 'ema.pt'}")


ModelDirOpt = Annotated[Path | None, typer.Option(
    "--model-dir", help="Folder with manifest.json + ONNX files (default: the shipped models).",
    show_default=False)]


#: Cats per network batch in ``generate``: bounded memory, and a progress bar that moves during
#: a large -n instead of sitting at 0% until the last step.
SAMPLE_CHUNK = 32
#: Widest grid ``generate`` writes, in pixels: past it image viewers give up and the upscale
#: alone takes gigabytes.
MAX_GRID_SIDE = 16384
MAX_UPSCALE = 16


def _parse_mix(spec: str) -> list[tuple[str, float]]:
    from tinycats.runtime.limits import GenerateInputError, check_weights

    parts = []
    for item in spec.split(","):
        name, sep, w = item.rpartition(":")
        if not sep or not name.strip():
            raise GenerateInputError(f"--mix wants Breed:weight,Breed:weight (got {item!r})")
        try:
            parts.append((name.strip(), float(w)))
        except ValueError:
            raise GenerateInputError(f"weight {w!r} in --mix is not a number") from None
    check_weights([w for _, w in parts])
    return parts


def _check_generate_options(*, n: int, upscale: int, steps: int | None, cfg: float | None,
                            solver: str | None, shift: float | None, seed: int,
                            output: Path, out_dir: Path | None) -> None:
    """Every number and path ``generate`` was given, checked before the model is loaded: a bad
    value is one line and exit 2, and an existing image is left as it is."""
    from tinycats.runtime.limits import GenerateInputError, check_settings
    from tinycats.runtime.output import check_image_file, check_image_folder

    if not 1 <= n <= MAX_CATS:
        raise GenerateInputError(f"-n must be between 1 and {MAX_CATS}, got {n}")
    if not 1 <= upscale <= MAX_UPSCALE:
        raise GenerateInputError(f"--upscale must be between 1 and {MAX_UPSCALE}, got {upscale}")
    check_settings(steps=steps, cfg_scale=cfg, solver=solver, shift=shift, seed=seed)
    check_image_file(output, "-o")
    if out_dir is not None:
        check_image_folder(out_dir, "--out-dir")


def _check_grid_side(n: int, size: int, upscale: int) -> None:
    """Refuse, before sampling, a grid too wide to write (measured with make_grid's own layout
    on blank tiles: a few MB, milliseconds)."""
    import numpy as np

    from tinycats.grid import make_grid
    from tinycats.runtime.limits import GenerateInputError

    blank = np.broadcast_to(np.zeros((1, size, size, 3), np.uint8), (n, size, size, 3))
    side = max(make_grid(blank).shape[:2]) * upscale
    if side > MAX_GRID_SIDE:
        raise GenerateInputError(f"the grid would be {side} px wide (the limit is "
                                 f"{MAX_GRID_SIDE}); use a smaller --upscale or -n")


def _sample_in_chunks(gen: Generator, noise: np.ndarray, y: np.ndarray,
                      st: SamplerSettings, what: str) -> np.ndarray:
    """``gen.sample`` over SAMPLE_CHUNK cats at a time under a progress bar counted in cats."""
    import numpy as np

    n = len(noise)
    out = []
    with progress_bar(f"sampling {n} x {what}", n) as bar:
        task = bar.task_ids[0]
        for i in range(0, n, SAMPLE_CHUNK):
            k = len(noise[i:i + SAMPLE_CHUNK])

            def step(j: int, total: int, _x: np.ndarray, k: int = k, i: int = i) -> None:
                bar.update(task, completed=i + k * j / total)  # exact at the end, no float drift

            out.append(gen.sample(noise[i:i + SAMPLE_CHUNK], y[i:i + SAMPLE_CHUNK],
                                  steps=st.steps, cfg_scale=st.cfg_scale, solver=st.solver,
                                  shift=st.shift, callback=step))
    return np.concatenate(out)


def _pick_stages(gen: Generator, manifest: Path, size: int | None, variant: str | None
                 ) -> Upscaler | None:
    """The upscaler when ``size`` asks for it (default: whenever the manifest has one), in
    ``variant`` if it has that file (it ships fp32 and fp16: an int8 generator runs with the
    fp32 upscaler); None for the generator's own size."""
    from tinycats.export import manifest as mf
    from tinycats.runtime.limits import GenerateInputError
    from tinycats.runtime.upscale import Upscaler, has_upscaler

    if size == gen.size or (size is None and not has_upscaler(manifest)):
        return None
    if not has_upscaler(manifest):
        raise GenerateInputError(f"--size must be {gen.size}: {manifest.parent} has no "
                                 "upscaler (tinycats export upscaler adds one)")
    files = mf.model_entry(mf.load(manifest), "upscaler")["files"]
    up = Upscaler(manifest, variant if variant in files else None)
    if up.cond_size != gen.size:
        raise mf.ManifestError(f"{manifest}: the upscaler takes {up.cond_size} px images but "
                               f"the generator draws {gen.size} px")
    if size not in (None, up.size):
        raise GenerateInputError(f"--size must be {gen.size} or {up.size}, got {size}")
    return up


def _upscale_in_chunks(up: Upscaler, x64: np.ndarray, seed: int) -> np.ndarray:
    """The upscaler stage over SAMPLE_CHUNK cats at a time under its own progress bar."""
    import numpy as np

    from tinycats.runtime.upscale import upscale_noise

    n = len(x64)
    eps_c, noise = upscale_noise(seed, n, up.cond_size, up.size, up.channels)
    out = []
    with progress_bar(f"upscaling {n} cats to {up.size} px", n) as bar:
        task = bar.task_ids[0]
        for i in range(0, n, SAMPLE_CHUNK):
            sl = slice(i, i + SAMPLE_CHUNK)
            k = len(x64[sl])

            def step(j: int, total: int, _x: np.ndarray, k: int = k, i: int = i) -> None:
                bar.update(task, completed=i + k * j / total)  # exact at the end, no float drift

            out.append(up.upscale(x64[sl], eps_c[sl], noise[sl], callback=step))
    return np.concatenate(out)


def generate(
    breed: Annotated[str | None, typer.Option("--breed", "-b", help="Breed (display name, "
                     "leniently matched), or 'any cat'.")] = None,
    mix: Annotated[str | None, typer.Option(help="Blend breeds, e.g. Bengal:0.5,Siamese:0.5 "
                   "(interpolates the class embedding; weights finite and >= 0).")] = None,
    n: Annotated[int, typer.Option("-n", help=f"Number of cats, 1 to {MAX_CATS}.")] = 16,
    steps: Annotated[int | None, typer.Option(help=f"Sampler steps, 1 to {MAX_STEPS} "
                     "(default: manifest).")] = None,
    cfg: Annotated[float | None, typer.Option("--cfg", help=f"Guidance scale, 0 to "
                   f"{MAX_CFG_SCALE:g} (default: manifest).")] = None,
    solver: Annotated[str | None, typer.Option(help="euler or heun (default: manifest).")
                      ] = None,
    shift: Annotated[float | None, typer.Option(help="Time-grid shift, above 0 and at most "
                     f"{MAX_SHIFT:g}; > 1 spends more steps near noise (default: manifest).")
                     ] = None,
    seed: Annotated[int, typer.Option(help=f"Noise seed, 0 to {MAX_SEED}: the same seed gives "
                    "the same cats.")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Grid image (.png, .jpg or "
                      ".webp); replaced only once the new one is complete.")
                      ] = Path("cats.png"),
    out_dir: Annotated[Path | None, typer.Option(help="Also write each cat as its own PNG here, "
                       "at the model's size unless --upscale is given.")] = None,
    upscale: Annotated[int | None, typer.Option(help=f"Smooth (Lanczos) upscale, 1 to "
                       f"{MAX_UPSCALE}: of the grid (default 2 below 128 px, else 1) and, "
                       f"when given, of each --out-dir image.")] = None,
    variant: Annotated[str | None, typer.Option(help="Model variant: fp32, fp16, int8.")
                       ] = None,
    size: Annotated[int | None, typer.Option(help="Image side: the generator's (64) or, after "
                    "its upscaler, twice that (128); default: the largest the models folder "
                    "has.")] = None,
    model_dir: ModelDirOpt = None,
) -> None:
    """Generate cats of a breed with the ONNX models (no torch needed)."""
    from tinycats.grid import make_grid, to_uint8
    from tinycats.runtime.output import make_image_folder, save_image_atomic
    from tinycats.runtime.sample import Generator, initial_noise

    if (breed is None) == (mix is None):
        raise TinycatsError("give exactly one of --breed or --mix")
    mdir = common.models_folder(model_dir)
    if size is not None and size < 1:
        raise TinycatsError(f"--size must be a positive number of pixels, got {size}")
    _check_generate_options(n=n, upscale=1 if upscale is None else upscale, steps=steps,
                            cfg=cfg, solver=solver, shift=shift, seed=seed, output=output,
                            out_dir=out_dir)
    mix_parts = _parse_mix(mix) if mix is not None else []
    gen = Generator(mdir / "manifest.json", variant=variant)
    up = _pick_stages(gen, mdir / "manifest.json", size, variant)
    size = up.size if up is not None else gen.size
    # the grid's cats at 128 px or more either way; a 128 px cat needs no resampling
    grid_upscale = upscale if upscale is not None else (2 if size < 128 else 1)
    display = {int(c["id"]): str(c["display"]) for c in gen.classes}
    if breed is not None:
        cid = gen.class_id(breed)
        y = gen.one_hot([cid] * n)
        what = display[cid]  # as the manifest spells it, however it was typed
    else:
        ids = [gen.class_id(name) for name, _ in mix_parts]
        y = gen.mix(dict(zip(ids, (w for _, w in mix_parts), strict=True)), n)
        what = " + ".join(f"{display[c]} {y[0, c]:.0%}" for c in dict.fromkeys(ids))  # as mixed
    st = gen.settings(steps=steps, cfg_scale=cfg, solver=solver, shift=shift)
    _check_grid_side(n, size, grid_upscale)
    if out_dir is not None:
        make_image_folder(out_dir, "--out-dir")
    x = _sample_in_chunks(gen, initial_noise(seed, n, gen.size, gen.channels), y, st, what)
    if up is not None:
        x = _upscale_in_chunks(up, x, seed)
    imgs = to_uint8(x)
    save_image_atomic(make_grid(imgs), output, upscale=grid_upscale)
    if out_dir is not None:
        for i, im in enumerate(imgs):
            save_image_atomic(im, out_dir / f"cat-{seed}-{i:03d}.png", upscale=upscale or 1)
    cats = f"{n} cat" + ("s" if n != 1 else "")
    console.print(f"wrote {output} ({cats} at {size} px, {gen.variant}, seed {seed})")


def export_generator_cmd(
    checkpoint: Annotated[Path | None, typer.Option(help="EMA checkpoint (default: "
                          "<data>/runs/generator/ema.pt).")] = None,
    data_dir: common.DataDirOpt = None,
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

    root = common.resolve_data_dir(data_dir)
    ck = common.existing_checkpoint(checkpoint or common.run_folder(root, "generator") / "ema.pt")
    dest = out or shipped_models_dir()
    entry = export_generator(ck, dest, variants=tuple(v.strip() for v in variants.split(",")),
                             sampler=common.given(steps=steps, cfg_scale=cfg, solver=solver,
                                                  shift=shift))
    common.print_export(entry, dest)


def eval_generator(
    model_dir: ModelDirOpt = None,
    data_dir: common.DataDirOpt = None,
    n_per_breed: Annotated[int, typer.Option(help="Samples per breed (per seed).")] = 32,
    steps: Annotated[int | None, typer.Option(help="Sampler steps (default: manifest).")] = None,
    cfg: Annotated[float | None, typer.Option("--cfg", help="Guidance scale (default: "
                   "manifest).")] = None,
    solver: Annotated[str | None, typer.Option(help="euler or heun (default: manifest).")
                      ] = None,
    shift: Annotated[float | None, typer.Option(help="Time-grid shift, > 1 spends more steps "
                     "near noise (default: manifest).")] = None,
    variant: Annotated[str | None, typer.Option(help="Generator variant to measure.")] = None,
    seed: Annotated[list[int] | None, typer.Option(
        "--seed", help="Base noise seed; repeat for several (--seed 1234 --seed 99): each draws "
        "--n-per-breed cats per breed, figures per seed and pooled. Default 1234.")] = None,
    seeds: Annotated[str | None, typer.Option(
        help="Several seeds at once, comma-separated (1234,99): the same as repeating --seed."
    )] = None,
    with_fid: Annotated[bool, typer.Option("--fid/--no-fid", help="Compute FID/KID (slow).")
                        ] = True,
    with_judge: Annotated[bool, typer.Option(
        "--judge/--no-judge", help="Second breed judge: a logistic regression on frozen "
        "EfficientNet-Lite2 features, fitted once on the training crops (then cached).")] = True,
    report_dir: Annotated[Path, typer.Option(help="Where the JSON report and grids go.")
                          ] = Path("reports"),
    update_manifest: Annotated[bool, typer.Option(
        help="Store the figures in the manifest's generator entry (default variant only).")
                               ] = True,
) -> None:
    """FID/KID vs the Oxford test split, breed accuracy by the shipped classifier and by a
    second judge (Lite2 features + logistic regression), "not a cat" share, memorisation
    distances and sample grids, measured on the exported ONNX model, per seed and pooled."""
    from tinycats.export import manifest as mf
    from tinycats.generator.evaluate import GenEvalConfig, manifest_metrics, training_crop
    from tinycats.runtime.sample import MODEL_KEY

    seed_list = _seed_list(seed, seeds)
    if n_per_breed < 1:
        raise TinycatsError("--n-per-breed must be at least 1")
    mdir = common.models_folder(model_dir)
    root = common.resolve_data_dir(data_dir)
    report_dir = common.in_checkout(report_dir)
    ecfg = GenEvalConfig(n_per_breed=n_per_breed, steps=steps, cfg_scale=cfg, solver=solver,
                         shift=shift, seeds=tuple(seed_list or [1234]), variant=variant,
                         fid=with_fid, judge=with_judge)
    gen_entry = mf.model_entry(mf.load(mdir / "manifest.json"), MODEL_KEY)
    _face_crops_with_progress(root, int(gen_entry["image_size"]), training_crop(gen_entry))
    rep = _evaluate_with_progress(mdir, root, ecfg, report_dir)
    _print_generator_report(rep)
    console.print(f"report: {report_dir}")
    entry = mf.model_entry(mf.load(mdir / "manifest.json"), "generator")
    # the manifest's figures describe the variant the runtimes use by default, and include FID
    if (update_manifest and with_fid
            and rep["model"]["variant"] == entry.get("default_variant", "fp32")):
        common.store_metrics(mdir / "manifest.json", "generator", manifest_metrics(rep))


def _seed_list(seed: list[int] | None, seeds: str | None) -> list[int]:
    """--seed (repeated) and --seeds (comma-separated) together, each seed once."""
    seed_list = list(seed or [])
    for item in (seeds or "").split(","):
        if item.strip():
            try:
                seed_list.append(int(item))
            except ValueError:
                raise TinycatsError(f"--seeds wants comma-separated whole numbers (got {item!r})"
                                    ) from None
    if len(set(seed_list)) != len(seed_list):
        raise TinycatsError(f"a seed is given twice: {seed_list}")
    return seed_list


def _evaluate_with_progress(mdir: Path, root: Path, ecfg: GenEvalConfig, report_dir: Path
                            ) -> dict[str, Any]:
    """``evaluate_generator`` with a progress bar per stage (gone when it is done)."""
    from rich.progress import Progress

    from tinycats.generator.evaluate import evaluate_generator

    with Progress(console=common.err_console, transient=True) as prog:
        tasks: dict[str, object] = {}

        def on_progress(stage: str, i: int, n: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=n)
            prog.update(tasks[stage], completed=i)  # type: ignore[arg-type]

        return evaluate_generator(mdir, root, ecfg, report_dir=report_dir, log=console.print,
                                  progress=on_progress)


def _print_generator_report(rep: dict[str, Any]) -> None:
    """The summary and per-breed tables, then the figures on real photos and the FID line."""
    from rich.table import Table

    from tinycats.generator.evaluate import per_breed_table, summary_table

    ba, judge = rep["breed_accuracy"], rep["judge"]
    for title, (header, rows) in (("generator", summary_table(rep)),
                                  ("per breed, all seeds", per_breed_table(rep))):
        table = Table(title=title)
        for col in header:
            table.add_column(col, justify="left" if col in ("figure", "breed") else "right")
        for r in rows:
            table.add_row(*r)
        console.print(table)
    console.print(f"on real 64px test crops: classifier "
                  f"{ba['classifier_on_real_test_64px']:.1%}" + (
                      f", judge mean {judge['on_real_test']['mean']:.1%} "
                      f"(min breed {judge['on_real_test']['min']:.1%}; l2 {judge['l2']:g}, "
                      f"fitted on {judge['n_train']} training crops)"
                      if "on_real_test" in judge else ""))
    if rep["fid"]["value"] is not None:
        console.print(f"FID {rep['fid']['value']:.1f} (N={rep['fid']['n_samples']} pooled vs "
                      f"{rep['fid']['n_real']} test cats; real-vs-real reference "
                      f"{rep['fid']['real_vs_real_reference']:.1f}); "
                      f"KID {rep['kid']['mean']:.4f}")


def export_golden(
    model_dir: ModelDirOpt = None,
    out_dir: Annotated[Path | None, typer.Option(help="Folder for generator.json (and "
                       "upscaler.json when the models include an upscaler); default: "
                       "tests/golden.")] = None,
) -> None:
    """Write golden vectors (noise, model outputs, Euler/Heun+CFG samples, the upscaler stage)
    for the Python and browser parity tests."""
    from tinycats.export.golden import write_golden, write_upscaler_golden
    from tinycats.runtime.upscale import has_upscaler

    dest = out_dir or repo_root() / "tests" / "golden"
    manifest = common.models_folder(model_dir) / "manifest.json"
    written = [(dest / "generator.json", write_golden(manifest, dest / "generator.json"))]
    if has_upscaler(manifest):
        written.append((dest / "upscaler.json",
                        write_upscaler_golden(manifest, dest / "upscaler.json")))
    for path, g in written:
        console.print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB) for "
                      f"{g['model']['file']}")


def export_generator_int8(model_dir: ModelDirOpt = None) -> None:
    """Rebuild the exported generator's int8 file from its fp32 ONNX (smoothed activations,
    per-channel 7-bit weights; no checkpoint needed) and update the manifest."""
    from tinycats.export.generator_int8 import requantize

    entry = requantize(common.models_folder(model_dir))
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
    from tinycats.export import manifest as mf
    from tinycats.export.generator_onnx import set_sampler_defaults

    overrides = common.given(steps=steps, cfg_scale=cfg, solver=solver, shift=shift)
    if not overrides:
        raise TinycatsError("nothing to change: pass --steps, --cfg, --solver and/or --shift")
    man = common.models_folder(model_dir) / "manifest.json"

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


def export_showcase(
    breed: Annotated[str, typer.Option("--breed", "-b", help="Breed the Generate page opens "
                     "on (name or key).")],
    seed: Annotated[int, typer.Option(help="The browser's seed for it (engine/rng.ts).")],
    model_dir: ModelDirOpt = None,
) -> None:
    """Set the breed and seed the web app's Generate page opens on (kept in the manifest)."""
    from tinycats.export.generator_onnx import set_showcase

    key = breed.strip().lower().replace(" ", "_")
    set_showcase(common.models_folder(model_dir) / "manifest.json", key, seed)
    console.print(f"the Generate page opens on {key}, seed {seed}")


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

    mdir = common.models_folder(model_dir)
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
    _bench_upscaler(mdir / "manifest.json", threads, images)


def _bench_upscaler(manifest: Path, threads: int | None, images: int) -> None:
    """Whole-cat time of the 64 px stage alone and with the upscaler, measured in the same runs
    (a ratio that holds on the machine that printed it)."""
    from tinycats.runtime.native_bench import upscale_figures
    from tinycats.runtime.upscale import has_upscaler

    if not has_upscaler(manifest):
        return
    f = upscale_figures(manifest, None, None, threads, images, warmup=1)
    b, whole = f["baseLatencyMs"]["median"] / 1e3, f["latencyMs"]["median"] / 1e3
    console.print(f"one cat, fp32: {f['size']} px {b:.2f} s; + upscaler to {f['upSize']} px "
                  f"{whole - b:.2f} s ({f['unit']}); whole pipeline {whole / b:.2f}x the "
                  f"{f['size']} px cat")


def pack_generator(
    out: Annotated[Path, typer.Option(help="New data folder to write (replaced if present).")],
    data_dir: common.DataDirOpt = None,
    size: Annotated[int, typer.Option(help="Image size of the caches to pack.")] = 64,
    any_cat_limit: Annotated[int, typer.Option(help="Unlabeled cat faces to include.")] = 1500,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Recipe whose data.crop and data.crop_views the pack follows"
        " (default: centre crops)."
    )] = None,
    jpeg_quality: Annotated[int | None, typer.Option(
        min=1, max=100, help="Store images as JPEG of this quality (~3x smaller at 95; "
        "default: raw arrays, exact)."
    )] = None,
    max_mb: common.MaxMbOpt = None,
) -> None:
    """Write a compact data folder with only what generator training reads (for a GPU box)."""
    from tinycats.generator.crops import Crop
    from tinycats.generator.pack import pack_generator_data

    recipe = None if config is None else _recipe(config).data
    crop = Crop() if recipe is None else recipe.crop_spec()
    root = common.resolve_data_dir(data_dir)
    _face_crops_with_progress(root, size, crop)
    total = pack_generator_data(root, out, size, any_cat_limit, crop, jpeg_quality,
                                None if recipe is None else recipe.views_spec())
    common.report_pack(out, total, max_mb,
                       "pack fewer faces (--any-cat-limit) or a lower --jpeg-quality")


register = common.registrar({
    "train": {"generator": train_generator},
    "data": {"pack-generator": pack_generator},
    "export": {"generator": export_generator_cmd, "golden": export_golden,
               "sampler-defaults": export_sampler_defaults, "showcase": export_showcase,
               "generator-int8": export_generator_int8},
    "app": {"generate": generate},
    "eval": {"generator": eval_generator},
    "bench": {"generator": bench_generator},
})
