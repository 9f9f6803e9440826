"""The README's results tables, made from the measured JSON in ``reports/`` (``tinycats report``).

Four tables, each between a pair of marker comments in README.md::

    <!-- report:classifier -->  ...  <!-- /report:classifier -->
    <!-- report:generator -->   ...  <!-- /report:generator -->
    <!-- report:upscaler -->    ...  <!-- /report:upscaler -->
    <!-- report:speed -->       ...  <!-- /report:speed -->

Inputs (all optional except the classifier and generator reports):

- ``reports/classifier.json`` (``tinycats eval classifier``);
- ``reports/generator.json`` and ``reports/generator-<variant>.json`` (``tinycats eval
  generator [--variant V]``), with their optional ``judge`` section (a second breed classifier)
  and ``per_seed`` figures (an evaluation over several seeds);
- ``reports/web-bench.json`` (``cd web && node scripts/bench.mjs --json ../reports/web-bench.json``,
  the JSON of ``make web-bench``), then any ``reports/web-bench-*.json`` (a part of the bench with
  other settings, e.g. ``--only generate --generator-variant int8``): rows added below;
- ``reports/cli-bench.json``: native onnxruntime timings, ``{"command", "when", "machine",
  "rows": [{"model", "variant", "batch", "median_ms", "p90_ms"?, "image_s"?}]}``;
- ``reports/upscaler.json`` (``tinycats eval upscaler``) and ``reports/cascade.json``
  (``tinycats eval cascade``): the 64 -> 128 px stage against bicubic upscaling;
- ``reports/machines.json``: when and on what machine a report was measured, for reports that do
  not say so themselves: ``{"reports": {"<file>": {"sha256", "date", "machine", "command"?}}}``.
  A record counts only while the file's sha256 matches it, so a re-measured report never inherits
  an old date (``tinycats report --stamp FILE --date D --machine M`` records a new one);
- ``web/public/models/manifest.json``: file sizes, parameter counts and the shipped variants.

Every figure in a table is read from these files; a figure they do not hold is left out. The
functions that make the tables are pure (dicts in, markdown out); ``collect`` and
``regenerate`` do the reading and writing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinycats.breeds import BREEDS
from tinycats.errors import TinycatsError

SECTIONS = ("classifier", "generator", "upscaler", "speed")
MACHINES_FILE = "machines.json"
WEB_BENCH_FILE = "web-bench.json"
CLI_BENCH_FILE = "cli-bench.json"
UPSCALER_FILE = "upscaler.json"
CASCADE_FILE = "cascade.json"
DEFAULT_COMMANDS = {
    "classifier": "tinycats eval classifier",
    "generator": "tinycats eval generator",
    "web": "cd web && node scripts/bench.mjs --json ../reports/web-bench.json",
    "cli": "tinycats bench generator",
    "upscaler": "tinycats eval upscaler --report reports/upscaler.json",
    "cascade": "tinycats eval cascade --seed 1234 --seed 99 --report reports/cascade.json",
}
NEAR_COPY = ("Near-copies: samples closer to a training crop (or its mirror image) than the 5th "
             "percentile of the real test crops")


class ReportError(TinycatsError):
    """A report is missing, unreadable, or lacks what a table needs."""


# -- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """One JSON report: its file name (relative to the reports folder), content and provenance."""

    name: str
    data: dict[str, Any]
    date: str | None = None
    machine: str | None = None
    command: str | None = None  # what measured it; default: ``command_for(name)``

    @property
    def cmd(self) -> str:
        return self.command or command_for(self.name)


@dataclass
class Inputs:
    classifier: Measured
    generator: list[Measured]  # generator.json (fp32) first, then the other variants
    web: list[Measured] = field(default_factory=list)  # web-bench.json, then web-bench-*.json
    cli: Measured | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    upscaler: list[Measured] = field(default_factory=list)  # upscaler.json, cascade.json


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def machine_text(machine: Any) -> str | None:
    """A report's own ``machine`` field as words: a string as it is; ``{"cpus": 2, "model":
    "AMD EPYC", "features": [...]}`` as "2-vCPU AMD EPYC, AVX2"."""
    if isinstance(machine, str):
        return machine or None
    if not isinstance(machine, dict) or not machine.get("model"):
        return None
    text = str(machine["model"]).strip()
    if machine.get("cpus"):
        text = f"{machine['cpus']}-vCPU {text}"
    feats = machine.get("features")
    if feats:
        text += ", " + (" + ".join(map(str, feats)) if isinstance(feats, list) else str(feats))
    return text


def own_date(data: dict[str, Any]) -> str | None:
    """The date a report records itself (``when``, ``date`` or ``measured.date``), YYYY-MM-DD."""
    measured = data.get("measured")
    for v in (data.get("when"), data.get("date"),
              measured.get("date") if isinstance(measured, dict) else None):
        if isinstance(v, str) and re.match(r"\d{4}-\d{2}-\d{2}", v):
            return v[:10]
    return None


def provenance(name: str, data: dict[str, Any], raw: bytes, records: dict[str, Any]
               ) -> tuple[str | None, str | None, str | None]:
    """(date, machine, command) of one report: its own fields first; then a ``machines.json``
    record, only if that record was made for exactly these bytes. The record's machine text wins
    over the report's own (a bench knows the CPU's name, a person adds its features)."""
    rec = records.get(name)
    if not isinstance(rec, dict) or rec.get("sha256") != sha256_bytes(raw):
        rec = {}
    measured = data.get("measured")
    own_machine = machine_text(data.get("machine") or (
        measured.get("machine") if isinstance(measured, dict) else None))
    command = data.get("command") if isinstance(data.get("command"), str) else None
    return (own_date(data) or rec.get("date"), rec.get("machine") or own_machine,
            command or rec.get("command"))


def read_report(reports: Path, name: str, records: dict[str, Any]) -> Measured:
    path = reports / name
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except FileNotFoundError:
        raise ReportError(f"{path} is missing: run `{command_for(name)}` first") from None
    except (OSError, ValueError) as e:
        raise ReportError(f"{path} is not readable JSON: {e}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path} is not a JSON object")
    return Measured(name, data, *provenance(name, data, raw, records))


def command_for(name: str) -> str:
    if name.startswith("web-bench"):
        return DEFAULT_COMMANDS["web"].replace(WEB_BENCH_FILE, name)
    if name == CLI_BENCH_FILE:
        return DEFAULT_COMMANDS["cli"]
    if name in (UPSCALER_FILE, CASCADE_FILE):
        return DEFAULT_COMMANDS[name.removesuffix(".json")]
    m = re.fullmatch(r"generator(?:-(\w+))?\.json", name)
    if m:
        return DEFAULT_COMMANDS["generator"] + (f" --variant {m[1]}" if m[1] else "")
    return DEFAULT_COMMANDS["classifier"]


def load_records(reports: Path) -> dict[str, Any]:
    path = reports / MACHINES_FILE
    if not path.exists():
        return {}
    try:
        recs = json.loads(path.read_text()).get("reports", {})
    except (OSError, ValueError, AttributeError) as e:
        raise ReportError(f"{path} is not readable JSON with a 'reports' object: {e}") from None
    return recs if isinstance(recs, dict) else {}


def generator_names(reports: Path) -> list[str]:
    """generator.json first, then every generator-<variant>.json with a model section."""
    names = ["generator.json"]
    for p in sorted(reports.glob("generator-*.json")):
        try:
            if isinstance(json.loads(p.read_text()).get("model"), dict):
                names.append(p.name)
        except (OSError, ValueError, AttributeError):
            continue
    return names


def collect(reports: Path, manifest_path: Path) -> Inputs:
    """Read every input of the three tables."""
    records = load_records(reports)
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    web = [n for n in [WEB_BENCH_FILE] if (reports / n).exists()]
    web += [p.name for p in sorted(reports.glob("web-bench-*.json"))]
    cli = read_report(reports, CLI_BENCH_FILE, records) if (reports / CLI_BENCH_FILE).exists() \
        else None
    return Inputs(classifier=read_report(reports, "classifier.json", records),
                  generator=[read_report(reports, n, records) for n in generator_names(reports)],
                  web=[read_report(reports, n, records) for n in web], cli=cli,
                  manifest=manifest,
                  upscaler=[read_report(reports, n, records) for n in (UPSCALER_FILE,
                                                                         CASCADE_FILE)
                            if (reports / n).exists()])


# -- formatting --------------------------------------------------------------------------------
def pct(x: Any, digits: int = 1) -> str:
    return f"{float(x) * 100:.{digits}f}%" if isinstance(x, int | float) else ""


def num(x: Any, digits: int) -> str:
    return f"{float(x):,.{digits}f}" if isinstance(x, int | float) else ""


def megabytes(n: Any) -> str:
    return f"{n / 1e6:.1f} MB" if isinstance(n, int | float) else ""


def mean_min(d: Any) -> str:
    if not isinstance(d, dict) or not isinstance(d.get("mean"), int | float):
        return ""
    return f"{pct(d['mean'])} / {pct(d.get('min'))}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table; a column empty in every row is left out."""
    keep = [i for i in range(len(header)) if any(r[i] for r in rows)] if rows else []
    lines = ["| " + " | ".join(header[i] for i in keep) + " |",
             "|" + "---|" * len(keep)]
    lines += ["| " + " | ".join(r[i] for i in keep) + " |" for r in rows]
    return lines


def provenance_words(items: Iterable[Measured], label: Callable[[Measured], str]) -> str:
    """"2026-12-01, 2-vCPU AMD EPYC" once when every report shares it, else per report."""
    groups: dict[tuple[str | None, str | None], list[str]] = {}
    for m in items:
        if not m.date:
            raise ReportError(
                f"reports/{m.name}: when was it measured? It records no date and "
                f"reports/{MACHINES_FILE} has no record of this version of it: run `tinycats "
                f"report --stamp reports/{m.name} --date YYYY-MM-DD --machine \"CPU, features\"`")
        groups.setdefault((m.date, m.machine), []).append(label(m))
    words = [f"{d}, {mach}" if mach else str(d) for d, mach in groups]
    if len(groups) == 1:
        return words[0]
    return "; ".join(f"{', '.join(labels)}: {w}"
                     for w, labels in zip(words, groups.values(), strict=True))


def file_entry(manifest: dict[str, Any], model: str, variant: str) -> dict[str, Any]:
    entry = manifest.get("models", {}).get(model, {})
    f = entry.get("files", {}).get(variant, {})
    return f if isinstance(f, dict) else {}


# -- classifier --------------------------------------------------------------------------------
def classifier_row_name(key: str, default_variant: str | None, int8_mode: str | None) -> str:
    """``onnx_int8_from_64px`` -> "ONNX int8 (static), input first downscaled to 64 px"."""
    m = re.fullmatch(r"(onnx_)?(\w+?)(?:_from_(\d+)px)?", key)
    if not m:
        return key
    variant = m[2]
    name = f"ONNX {variant}" if m[1] else ("PyTorch" if variant == "torch" else variant)
    notes = [int8_mode] if variant == "int8" and int8_mode else []
    if m[1] and variant == default_variant and not m[3]:
        notes.append("shipped default")
    if notes:
        name += f" ({', '.join(notes)})"
    return name + (f", input first downscaled to {m[3]} px" if m[3] else "")


def classifier_table(rep: Measured, manifest: dict[str, Any] | None = None) -> str:
    """One row per result in ``classifier.json``: top-1 over the 12 breeds, top-3,
    cat-vs-other, ECE, and the file's size."""
    d = rep.data
    results = d.get("results")
    if not isinstance(results, dict) or not results:
        raise ReportError(f"reports/{rep.name} has no results")
    model = d.get("model", {}) if isinstance(d.get("model"), dict) else {}
    entry = (manifest or {}).get("models", {}).get("classifier", {})
    default = entry.get("default_variant")
    rows = []
    degraded = {k: r for k, r in results.items() if "_degraded_" in k}
    # whole-resolution rows first, then the downscaled-input ones, each in the report's order
    for key, r in sorted(((k, r) for k, r in results.items() if k not in degraded),
                         key=lambda kv: "_from_" in kv[0]):
        variant = re.sub(r"^onnx_|_from_\d+px$", "", key)
        size = (f"{model['params'] / 1e6:.2f}M params" if variant == "torch" and
                model.get("params") else megabytes(d.get("files", {}).get(variant, {})
                                                   .get("bytes")))
        rows.append([classifier_row_name(key, default, model.get("int8_mode")), size,
                     pct(r.get("top1_breeds")), pct(r.get("top3_breeds")),
                     pct(r.get("cat_vs_other"), 2), num(r.get("ece"), 3)])
    first = next(iter(results.values()))
    what = ", ".join(x for x in (
        str(model.get("backbone", "")).replace("efficientnet-lite", "EfficientNet-Lite"),
        f"{model['params'] / 1e6:.2f}M parameters" if model.get("params") else "",
        f"recipe configs/{model['recipe']}.yaml" if model.get("recipe") else "") if x)
    caption = (f"**Breed classifier** ({what}). `{rep.cmd}` → "
               f"`reports/{rep.name}`, {provenance_words([rep], lambda m: m.name)}; "
               f"{d.get('split', 'test split')}: {num(first.get('cat_images'), 0)} cats, "
               f"{num(first.get('other_images'), 0)} other.")
    lines = [caption, "", *table(["model", "size", "top-1 (12 breeds)", "top-3", "cat vs other",
                                  "ECE"], rows)]
    if degraded:
        lines += ["", degraded_words(degraded)]
    sure = results.get(f"onnx_{default}", {})
    if isinstance(sure.get("top1_all_when_sure"), int | float) and sure.get("unsure"):
        lines += ["", f"Unsure answers (shown as the top 3): {pct(sure['unsure'])} of the test "
                      f"images with the shipped default; the other answers are "
                      f"{pct(sure['top1_all_when_sure'])} right."]
    stale = [v for v, f in d.get("files", {}).items()
             if file_entry(manifest or {}, "classifier", v).get("sha256") not in
             (None, f.get("sha256"))]
    if stale:
        lines += ["", f"Not the shipped files: {', '.join(stale)} changed since this "
                      "evaluation (sha256 differs from the manifest)."]
    return "\n".join(lines)


#: the classifier report's degraded inputs, as the README names them
DEGRADED_WORDS = {"nearest64": "64 px and back (nearest)", "bicubic64": "64 px and back (bicubic)",
                  "jpeg20": "JPEG quality 20", "crop60": "centre crop 60%"}


def degraded_words(degraded: dict[str, Any]) -> str:
    """One sentence: top-1 over the breeds on each degraded copy of the test photos."""
    variant = re.sub(r"^onnx_|_degraded_\w+$", "", next(iter(degraded)))
    parts = [f"{DEGRADED_WORDS.get(k.split('_degraded_')[1], k)} {pct(r.get('top1_breeds'))}"
             for k, r in degraded.items()]
    return (f"Degraded test photos (ONNX {variant}, top-1 over the 12 breeds; "
            f"classifier/robustness.py): {', '.join(parts)}.")


# -- generator ---------------------------------------------------------------------------------
def sampler_words(s: Any) -> str:
    if not isinstance(s, dict):
        return ""
    solver = str(s.get("solver", "")).capitalize()
    return f"{solver}, {s.get('steps')} steps, CFG {num(s.get('cfg_scale'), 0)}, " \
           f"shift {num(s.get('shift'), 0)}"


def seeds_of(s: dict[str, Any]) -> list[str]:
    seeds = s.get("seeds", [s["seed"]] if "seed" in s else [])
    return [str(x) for x in seeds]


def eval_generator_command(s: dict[str, Any]) -> str:
    """The command that measured a generator report: its sample count and seeds spelled out (the
    CLI's defaults are a quicker check, not the README's figures)."""
    n = s.get("n_per_breed")
    return (DEFAULT_COMMANDS["generator"] + (f" --n-per-breed {n}" if n else "")
            + "".join(f" --seed {x}" for x in seeds_of(s)))


def judge_summary(judge: Any) -> dict[str, Any] | None:
    """The second judge's figures on the samples, or None when it did not run."""
    if not isinstance(judge, dict) or "skipped" in judge:
        return None
    on = judge.get("on_samples", judge)
    return on if isinstance(on, dict) and "mean" in on else None


def fid_cell(fid: Any, value: Any = None) -> str:
    if not isinstance(fid, dict):
        return ""
    v = value if value is not None else fid.get("value")
    if not isinstance(v, int | float):
        skipped = fid.get("skipped")
        return f"not measured (`{skipped}`)" if skipped else ""
    ref = fid.get("real_vs_real_reference")
    return num(v, 1) + (f" (real vs real: {num(ref, 1)})" if value is None and
                        isinstance(ref, int | float) else "")


def generator_cells(ba: Any, judge: Any, fid: str, kid: Any, near: Any) -> list[str]:
    """breed accuracy, "not a cat", second judge, FID, KID, near-copies."""
    ba = ba if isinstance(ba, dict) else {}
    return [mean_min(ba), pct(ba.get("classified_as_other"), 0), mean_min(judge), fid,
            num(kid, 3), pct(near)]


def sampling_words(sampler: Any) -> str:
    """How many samples per breed and which seeds an evaluation drew: "32 samples per breed,
    seed 1234"."""
    s = sampler if isinstance(sampler, dict) else {}
    seeds = seeds_of(s)
    return (f"{s.get('n_per_breed')} samples per breed"
            + (f", seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}" if seeds else ""))


def generator_rows(rep: Measured, manifest: dict[str, Any], multi_sampler: bool,
                   caption_sampling: str = "") -> list[list[str]]:
    """A report's row, and one row per seed when it pooled several. A report that drew other
    samples than the caption's command says how many, and with which seeds."""
    d = rep.data
    variant = str(d.get("model", {}).get("variant", rep.name))
    entry = manifest.get("models", {}).get("generator", {})
    f = file_entry(manifest, "generator", variant)
    size = megabytes(f.get("bytes")) if f.get("sha256") == d.get("model", {}).get("sha256") else ""
    ba, fid, kid = d.get("breed_accuracy", {}), d.get("fid", {}), d.get("kid", {})
    mem, judge = d.get("memorisation", {}), d.get("judge")
    per_seed = ba.get("per_seed") if isinstance(ba.get("per_seed"), dict) else {}
    label = f"ONNX {variant}" + (" (shipped default)" if entry.get("default_variant") == variant
                                 else "")
    if len(per_seed) > 1:
        label += f", {len(per_seed)} seeds pooled"
    drawn = sampling_words(d.get("sampler"))
    if caption_sampling and drawn != caption_sampling:
        label += f" ({drawn})"
    sampler = [sampler_words(d.get("sampler"))] if multi_sampler else []
    rows = [[label, size, *sampler, *generator_cells(
        ba, judge_summary(judge), fid_cell(fid), kid.get("mean"),
        mem.get("share_samples_closer_than_5th_pct_of_test"))]]
    if len(per_seed) <= 1:
        return rows
    j_seed = judge.get("per_seed", {}) if isinstance(judge, dict) and judge_summary(judge) else {}
    for s, fig in per_seed.items():
        near = mem.get("per_seed", {}).get(s, {}).get("share_samples_closer_than_5th_pct_of_test")
        fid_s = fid.get("per_seed", {}).get(s)
        rows.append([f"{variant}, seed {s} alone", "", *[""] * len(sampler), *generator_cells(
            fig, j_seed.get(s), fid_cell(fid, fid_s) if fid_s is not None else "",
            kid.get("per_seed", {}).get(s), near)])
    return rows


def per_breed_line(rep: Measured) -> str:
    per = rep.data.get("breed_accuracy", {}).get("per_breed", {})
    names = {b.key: b.display for b in BREEDS}
    ranked = sorted(per.items(), key=lambda kv: (-kv[1], names.get(kv[0], kv[0])))
    return ", ".join(f"{names.get(k, k)} {v * 100:.0f}%" for k, v in ranked)


def generator_caption(reps: list[Measured], manifest: dict[str, Any], multi_sampler: bool
                      ) -> str:
    first = reps[0].data
    entry = manifest.get("models", {}).get("generator", {})
    params = entry.get("model", {}).get("params")
    ba, fid, s = first.get("breed_accuracy", {}), first.get("fid", {}), first.get("sampler", {})
    parts = [f"**Generator** (TinyDiT{f', {params / 1e6:.2f}M parameters' if params else ''}). "
             f"`{eval_generator_command(s)} [--variant V]` → `reports/generator[-V].json`, "
             + provenance_words(reps, lambda m: str(m.data.get("model", {}).get("variant")))]
    if not multi_sampler:
        parts.append(f"sampler {sampler_words(s)}")
    parts.append(sampling_words(s))
    if isinstance(ba.get("classifier_on_real_test_64px"), int | float):
        parts.append(f"breed accuracy judged by the shipped {ba.get('classifier_variant', '')} "
                     f"classifier, which recognises {pct(ba['classifier_on_real_test_64px'])} "
                     "of the real test crops")
    judge = first.get("judge")
    if judge_summary(judge) and isinstance(judge, dict):
        real = judge.get("on_real_test", {}).get("mean")
        parts.append(f"second judge: {judge.get('backbone', 'an independent classifier')}"
                     + (f", {pct(real)} on the real test crops" if real is not None else ""))
    if isinstance(fid.get("value"), int | float):
        parts.append(f"FID and KID: {fid.get('n_samples')} samples against "
                     f"{fid.get('n_real')} {fid.get('reference', 'real test images')}")
    return "; ".join(parts) + "."


def generator_table(reps: list[Measured], manifest: dict[str, Any] | None = None) -> str:
    """One row per evaluated variant (plus one per seed when an evaluation pooled several):
    breed accuracy mean / min, "not a cat", the second judge when present, FID with its
    real-vs-real reference, KID, near-copies, file size."""
    if not reps:
        raise ReportError("no generator report in reports/")
    man = manifest or {}
    multi_sampler = len({sampler_words(r.data.get("sampler")) for r in reps}) > 1
    header = ["model", "size", *(["sampler"] if multi_sampler else []),
              "breed accuracy (mean / min over 12 breeds)", "called \"not a cat\"",
              "second judge (mean / min)", "FID", "KID", "near-copies"]
    first = sampling_words(reps[0].data.get("sampler"))
    rows = [row for r in reps for row in generator_rows(r, man, multi_sampler, first)]
    lines = [generator_caption(reps, man, multi_sampler), "", *table(header, rows), "",
             f"Per breed ({reps[0].data.get('model', {}).get('variant', 'fp32')}): "
             f"{per_breed_line(reps[0])}. {NEAR_COPY}."]
    stale = [r.name for r in reps
             if file_entry(man, "generator", str(r.data.get("model", {}).get("variant")))
             .get("sha256") not in (None, r.data.get("model", {}).get("sha256"))]
    if stale:
        lines += ["", f"Not the shipped files: {', '.join(stale)} measured a file whose sha256 "
                      "differs from the manifest's; re-run the evaluation."]
    judged = [r.name for r in reps if judged_by_another_classifier(r.data, man)]
    if judged:
        lines += ["", f"Judged by a classifier that is no longer shipped: {', '.join(judged)} "
                      "(its breed accuracy and \"not a cat\" share); re-run the evaluation."]
    return "\n".join(lines)


def judged_by_another_classifier(d: dict[str, Any], manifest: dict[str, Any]) -> bool:
    """The breed figures of a generator report came from a classifier file whose
    sha256 is not the shipped one."""
    ba = d.get("breed_accuracy") or {}
    sha = ba.get("classifier_sha256")
    shipped = file_entry(manifest, "classifier", str(ba.get("classifier_variant"))).get("sha256")
    return sha is not None and shipped is not None and sha != shipped


# -- speed -------------------------------------------------------------------------------------
def verdict(value: Any, target: Any) -> str:
    if not isinstance(value, int | float) or not isinstance(target, int | float):
        return ""
    return "met" if value <= target else "**missed**"


def backend(part: dict[str, Any]) -> str:
    b = str(part.get("backend", ""))
    return {"wasm": "WASM", "webgpu": "WebGPU"}.get(b, b)


def cat_words(g: dict[str, Any]) -> str:
    """"generate 1 64x64 image(s): 10 heun steps, guidance 5" -> "one 64x64 cat (10 Heun
    steps, guidance 5; fp32, WASM)"."""
    unit = str(g.get("unit", "generate"))
    m = re.fullmatch(r"generate 1 (\S+) image\(s\): (.*)", unit)
    what = f"one {m[1]} cat ({m[2].replace('heun', 'Heun').replace('euler', 'Euler')}; " \
        if m else f"{unit} ("
    return what + f"{g.get('variant')}, {backend(g)})"


def web_rows(d: dict[str, Any]) -> list[list[str]]:
    """Rows of the browser bench: classify, one cat, page ready (models cached)."""
    t, rows = d.get("targets", {}), []
    c = d.get("classify")
    if isinstance(c, dict) and isinstance(c.get("latencyMs"), dict):
        lat = c["latencyMs"]
        rows.append([f"browser: classify one photo ({c.get('variant')}, {backend(c)}, "
                     f"{c.get('threads')} threads, class map included), median / p90 of "
                     f"{lat.get('n')}", f"{num(lat.get('median'), 1)} / {num(lat.get('p90'), 1)} "
                     "ms", f"{t['classifyMs']} ms" if "classifyMs" in t else "",
                     verdict(lat.get("median"), t.get("classifyMs"))])
    g = d.get("generate")
    if isinstance(g, dict) and isinstance(g.get("latencyMs"), dict):
        lat = g["latencyMs"]
        rows.append([f"browser: {cat_words(g)}, median / p90 of {lat.get('n')}",
                     f"{num(lat.get('median', 0) / 1e3, 2)} / {num(lat.get('p90', 0) / 1e3, 2)} s",
                     f"{num(t['generateMs'] / 1e3, 0)} s" if "generateMs" in t else "",
                     verdict(lat.get("median"), t.get("generateMs"))])
    u = d.get("upscale")
    base = u.get("base") if isinstance(u, dict) else None
    if isinstance(u, dict) and isinstance(base, dict) and isinstance(u.get("latencyMs"), dict):
        big, small = u["latencyMs"].get("median", 0), base.get("latencyMs", {}).get("median", 0)
        rows.append([f"browser: one 128x128 cat / its 64 px stage alone ({u.get('unit')}; "
                     f"{backend(u)}, {u.get('threads')} threads), medians of the same "
                     f"{u.get('runs')} runs", f"{num(big / 1e3, 2)} / {num(small / 1e3, 2)} s "
                     f"= {num(big / small, 2) if small else ''}x", "1.6x",
                     verdict(big / small if small else None, 1.6)])
    rows += native_rows(d)
    r = d.get("ready")
    if isinstance(r, dict) and r:
        pages = [p for p in ("classify", "generate") if isinstance(r.get(p), dict)]
        ms = [r[p].get("medianMs") for p in pages]
        rows.append([f"browser: page ready, models cached ({' / '.join(pages)} page), median",
                     " / ".join(f"{num(m, 0)} ms" for m in ms),
                     f"{num(t['readyMs'] / 1e3, 0)} s" if "readyMs" in t else "",
                     " / ".join(verdict(m, t.get("readyMs")) for m in ms)])
    return rows


def native_rows(d: dict[str, Any]) -> list[list[str]]:
    """Browser / native onnxruntime for each unit the browser bench timed natively too (same run,
    same CPU, same variant)."""
    n, ratios = d.get("native"), d.get("ratios")
    rows: list[list[str]] = []
    if not isinstance(n, dict) or not isinstance(ratios, dict):
        return rows
    target = d.get("targets", {}).get("nativeRatio")
    names = {"classify": "classify one photo", "generate": "one cat",
             "upscale": "one 128x128 cat"}
    for unit, what in names.items():
        part, ratio = n.get(unit), ratios.get(unit)
        if not isinstance(part, dict) or not isinstance(ratio, int | float):
            continue
        ms = part.get("latencyMs", {}).get("median")
        rows.append([f"browser / native onnxruntime ({n.get('threads')} threads): {what} "
                     f"({part.get('variant')}), native median {num(ms, 1)} ms",
                     f"{num(ratio, 2)}x", f"{num(target, 0)}x" if target else "",
                     verdict(ratio, target)])
    return rows


def cli_rows(d: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in d.get("rows", []):
        if not isinstance(r, dict):
            continue
        what = f"CLI (onnxruntime): {r.get('model', 'generator')} {r.get('variant', '')}"
        if isinstance(r.get("median_ms"), int | float):
            p90 = f" / {num(r['p90_ms'], 1)}" if isinstance(r.get("p90_ms"), int | float) else ""
            rows.append([f"{what}, one network call, batch {r.get('batch', 1)}, median"
                         + (" / p90" if p90 else ""), f"{num(r['median_ms'], 1)}{p90} ms", "", ""])
        if isinstance(r.get("image_s"), int | float):
            rows.append([f"{what}, one image at the default sampler", f"{num(r['image_s'], 2)} s",
                         "", ""])
    return rows


def bench_files_stale(d: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """Files a browser bench timed that are no longer the shipped ones (sha256 differs)."""
    out = []
    for part, model in (("classify", "classifier"), ("generate", "generator")):
        p = d.get(part)
        if isinstance(p, dict) and p.get("sha256"):
            shipped = file_entry(manifest, model, str(p.get("variant"))).get("sha256")
            if shipped and shipped != p["sha256"]:
                out.append(str(p.get("file", model)))
    return out


def speed_caption(web: list[Measured], cli: Measured | None) -> str:
    """When, where and with what each bench ran: one provenance for all when they share it."""
    benches = [*web, *([cli] if cli is not None else [])]
    browsers = sorted({str(w.data["browser"]) for w in web if w.data.get("browser")})
    head = provenance_words(benches, lambda m: f"`reports/{m.name}`")
    sources = "; ".join(f"`{m.cmd}` → `reports/{m.name}`" for m in benches)
    return f"**Speed** ({head}{''.join(f'; {b}' for b in browsers)}). {sources}."


def speed_table(web: list[Measured], cli: Measured | None,
                manifest: dict[str, Any] | None = None) -> str:
    """Measured latencies of the shipped models: the browser benches and, when reports/ holds
    one, the native onnxruntime bench; targets and verdicts as the browser bench records them."""
    if not web and cli is None:
        return "**Speed**: no benchmark JSON in reports/ yet."
    rows = [row for w in web for row in web_rows(w.data)]
    rows += cli_rows(cli.data) if cli is not None else []
    lines = [speed_caption(web, cli), "",
             *table(["what", "measured", "target", "result"], rows)]
    stale = [f for w in web for f in bench_files_stale(w.data, manifest or {})]
    if stale:
        lines += ["", f"Timed with files that are no longer shipped ({', '.join(stale)}): "
                      "re-run the bench."]
    return "\n".join(lines)


# -- upscaler ----------------------------------------------------------------------------------
def upscaler_rows(real: dict[str, Any] | None, cascade: dict[str, Any] | None
                  ) -> list[list[str]]:
    """Real test faces (downscaled and upscaled back) and generated cats, bicubic vs model."""
    rows = []
    if real and "original" in real:  # the breed accuracy the upscalings are measured against
        rows.append(["real test faces, the 128 px originals", "", "", "",
                     mean_min(real["original"].get("classifier")), ""])
    for key, name in (("bicubic", "bicubic"), ("model", "upscaler")):
        if real and key in real:
            r = real[key]
            rows.append([f"real test faces, 64 px → 128 px, {name}", num(r.get("psnr_db"), 2),
                         num(r.get("fid"), 1), "", mean_min(r.get("classifier")), ""])
    for key in ("bicubic", "upscaler"):
        if cascade and key in cascade:
            c = cascade[key]
            rows.append([f"generated cats, 64 px → 128 px, {key}", "", num(c.get("fid"), 1),
                         num(c.get("kid"), 3), mean_min(c.get("classifier")),
                         mean_min((c.get("judge") or {}).get("on_samples"))])
    return rows


def upscaler_table(reps: list[Measured], manifest: dict[str, Any] | None = None) -> str:
    """The 64 -> 128 px stage against bicubic upscaling, when reports/ holds its figures."""
    if not reps:
        return "**Upscaler**: no upscaler figures in reports/ yet."
    by = {m.name: m.data for m in reps}
    real, cascade = by.get(UPSCALER_FILE), by.get(CASCADE_FILE)
    params = (manifest or {}).get("models", {}).get("upscaler", {}).get("model", {}).get("params")
    head = provenance_words(reps, lambda m: f"`reports/{m.name}`")
    sources = "; ".join(f"`{m.cmd}`" for m in reps)
    what = f"U-Net, {params / 1e6:.2f}M parameters" if params else "U-Net"
    caption = f"**Upscaler** (64 → 128 px, {what}; {head}). {sources}."
    if real:
        sp = real.get("sampler", {})
        caption += (f" Real: {real.get('n')} Oxford test face crops, downscaled to 64 px and "
                    f"upscaled back, sampler {sp.get('solver')} {sp.get('steps')} steps, "
                    f"s {sp.get('s')}.")
    if cascade:
        st = cascade.get("settings", {})
        caption += (f" Generated: {cascade.get('n_samples')} cats of the shipped generator "
                    f"(seeds {', '.join(map(str, st.get('seeds', [])))}), FID/KID against "
                    f"{cascade.get('n_real')} test face crops at 128 px; their 64 px originals: "
                    f"{mean_min((cascade.get('base_64') or {}).get('classifier'))} breed "
                    "accuracy.")
    header = ["128 px images", "PSNR (dB)", "FID", "KID", "breed accuracy (mean / min)",
              "second judge (mean / min)"]
    return "\n".join([caption, "", *table(header, upscaler_rows(real, cascade))])


# -- README ------------------------------------------------------------------------------------
def render(inputs: Inputs) -> dict[str, str]:
    """The tables' markdown, by section name."""
    return {"classifier": classifier_table(inputs.classifier, inputs.manifest),
            "generator": generator_table(inputs.generator, inputs.manifest),
            "upscaler": upscaler_table(inputs.upscaler, inputs.manifest),
            "speed": speed_table(inputs.web, inputs.cli, inputs.manifest)}


def marker_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- report:{name} -->\n)(.*?)(<!-- /report:{name} -->)", re.S)


def replace_sections(text: str, sections: dict[str, str], source: str = "README.md") -> str:
    """``text`` with the body between each section's markers replaced by ``sections[name]``."""
    for name, body in sections.items():
        pattern = marker_re(name)
        found = list(pattern.finditer(text))
        if len(found) != 1:
            raise ReportError(f"{source} needs exactly one '<!-- report:{name} -->' ... "
                              f"'<!-- /report:{name} -->' pair, each marker on its own line")
        m = found[0]
        text = text[:m.end(1)] + body.rstrip("\n") + "\n" + text[m.start(3):]
    return text


def regenerate(readme: Path, reports: Path, manifest: Path, *, check: bool = False) -> bool:
    """Rewrite the README's tables from the reports; True when the README changed (with
    ``check``: would change; nothing is written)."""
    try:
        text = readme.read_text()
    except OSError as e:
        raise ReportError(f"cannot read {readme}: {e}") from None
    new = replace_sections(text, render(collect(reports, manifest)), readme.name)
    if new != text and not check:
        readme.write_text(new)
    return new != text


def stamp(reports: Path, files: list[Path], date: str, machine: str | None,
          command: str | None = None) -> list[str]:
    """Record in machines.json when, on what machine (and, for a report that does not say,
    by what command) these reports, as they are now, were measured; returns their names."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise ReportError(f"--date must be YYYY-MM-DD, not {date!r}")
    path = reports / MACHINES_FILE
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    recs = doc.setdefault("reports", {})
    names = []
    for f in files:
        p = f if f.is_absolute() or f.exists() else reports / f.name
        if not p.exists() or p.resolve().parent != reports.resolve():
            raise ReportError(f"{f} is not a report in {reports}")
        rec: dict[str, Any] = {"sha256": sha256_bytes(p.read_bytes()), "date": date}
        if machine:
            rec["machine"] = machine
        if command:
            rec["command"] = command
        recs[p.name] = rec
        names.append(p.name)
    doc["reports"] = dict(sorted(recs.items()))
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return names
