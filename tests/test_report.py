"""`tinycats report`: the README's results tables made from reports/*.json (src/tinycats/report.py).

Tables from small JSON fixtures written here; the marker rewrite; `--check` on a stale and on a
regenerated README; and the committed README against the committed reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tinycats import report as rp
from tinycats.cli.main import app
from tinycats.paths import SHIPPED_MODELS, repo_root

BREED_KEYS = ["abyssinian", "bengal", "birman", "bombay", "british_shorthair", "egyptian_mau",
              "maine_coon", "persian", "ragdoll", "russian_blue", "siamese", "sphynx"]
MACHINE = "2-vCPU AMD EPYC, AVX2 only"


def clf_result(top1: float) -> dict[str, Any]:
    return {"images": 130, "cat_images": 120, "other_images": 10, "top1_breeds": top1,
            "top3_breeds": 0.97, "cat_vs_other": 0.9945, "ece": 0.1474}


CLASSIFIER = {
    "command": "tinycats eval classifier",
    "split": "official Oxford-IIIT Pet test split",
    "model": {"backbone": "efficientnet-lite0", "params": 3387661, "recipe": "clf-run1",
              "int8_mode": "static"},
    "files": {"fp32": {"bytes": 13786807, "sha256": "c32"}, "int8": {"bytes": 3821428,
                                                                     "sha256": "c8"}},
    "results": {"onnx_fp32": clf_result(0.8926), "onnx_fp32_from_64px": clf_result(0.8225),
                "onnx_int8": clf_result(0.8876)},
}


def gen_report(variant: str, mean: float, *, fid: float | None = 132.63) -> dict[str, Any]:
    per = {k: mean for k in BREED_KEYS}
    per["siamese"] = 0.40625
    return {
        "model": {"variant": variant, "file": f"generator-{variant}.onnx", "sha256": f"g{variant}"},
        "sampler": {"steps": 10, "cfg_scale": 5.0, "solver": "heun", "shift": 3.0, "seed": 1234,
                    "n_per_breed": 32},
        "breed_accuracy": {"mean": mean, "min": 0.40625, "per_breed": per,
                           "classified_as_other": 0.0911, "classifier_on_real_test_64px": 0.8166,
                           "classifier_variant": "int8"},
        "fid": ({"value": fid, "n_samples": 384, "n_real": 631, "real_vs_real_reference": 35.79,
                 "reference": "test cats, 64x64 face crops"} if fid is not None
                else {"value": None, "skipped": "--no-fid"}),
        "kid": {"mean": 0.06848 if fid is not None else None},
        "memorisation": {"share_samples_closer_than_5th_pct_of_test": 0.015625},
    }


WEB_BENCH = {
    "when": "2026-12-01T07:26:56.366Z", "browser": "Chromium 156",
    "targets": {"classifyMs": 25, "generateMs": 2000, "readyMs": 1000},
    "machine": {"cpus": 2, "model": "AMD EPYC"},
    "classify": {"variant": "fp32", "backend": "wasm", "threads": 2, "file": "classifier-fp32.onnx",
                 "sha256": "c32", "latencyMs": {"n": 100, "median": 61.03, "p90": 73.5}},
    "generate": {"unit": "generate 1 64x64 image(s): 10 heun steps, guidance 5",
                 "variant": "fp32", "backend": "wasm", "file": "generator-fp32.onnx",
                 "sha256": "gfp32", "latencyMs": {"n": 5, "median": 1114.2, "p90": 1220.2}},
    "ready": {"classify": {"medianMs": 1353.9}, "generate": {"medianMs": 823.8}},
    "loadAverage": {"before": [1.04, 1.6, 1.2], "after": [3.37, 2.1, 1.5]},
}

MANIFEST = {"models": {
    "classifier": {"default_variant": "int8",
                   "files": {"fp32": {"bytes": 13786807, "sha256": "c32"},
                             "int8": {"bytes": 3821428, "sha256": "c8"}}},
    "generator": {"default_variant": "fp32", "model": {"params": 9835171},
                  "files": {"fp32": {"bytes": 39821215, "sha256": "gfp32"},
                            "int8": {"bytes": 10598125, "sha256": "gint8"}}},
}}

README = """# project

intro

<!-- report:classifier -->
old classifier table
<!-- /report:classifier -->

between

<!-- report:generator -->
<!-- /report:generator -->

<!-- report:upscaler -->
<!-- /report:upscaler -->

<!-- report:speed -->
old speed
<!-- /report:speed -->

end
"""


def measured(name: str, data: dict[str, Any], date: str | None = "2026-12-01",
             machine: str | None = MACHINE) -> rp.Measured:
    return rp.Measured(name, data, date, machine)


def rows_of(md: str) -> list[list[str]]:
    """The body rows of the markdown table in ``md``, split into cells."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def header_of(md: str) -> list[str]:
    line = next(ln for ln in md.splitlines() if ln.startswith("|"))
    return [c.strip() for c in line.strip("|").split("|")]


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    """A README with markers, a reports folder (stamped) and a manifest."""
    reports = tmp_path / "reports"
    reports.mkdir()
    write_json(reports / "classifier.json", CLASSIFIER)
    write_json(reports / "generator.json", gen_report("fp32", 0.7708))
    write_json(reports / "generator-int8.json", gen_report("int8", 0.7474, fid=None))
    write_json(reports / "web-bench.json", WEB_BENCH)
    int8 = {**WEB_BENCH, "ready": {}, "generate": {**WEB_BENCH["generate"], "variant": "int8",
                                                   "sha256": "gint8",
                                                   "latencyMs": {"n": 5, "median": 604.8,
                                                                 "p90": 616.4}}}
    del int8["classify"]
    write_json(reports / "web-bench-generator-int8.json", int8)
    rp.stamp(reports, [reports / "web-bench-generator-int8.json"], "2026-12-01", MACHINE,
             "node scripts/bench.mjs --only generate --generator-variant int8")
    rp.stamp(reports, [reports / "classifier.json"], "2026-11-30", MACHINE)
    rp.stamp(reports, [reports / "generator.json", reports / "generator-int8.json"],
             "2026-12-01", MACHINE)
    manifest = tmp_path / "manifest.json"
    write_json(manifest, MANIFEST)
    readme = tmp_path / "README.md"
    readme.write_text(README)
    return {"readme": readme, "reports": reports, "manifest": manifest}


# -- tables ------------------------------------------------------------------------------------
def test_classifier_table_reads_every_result_with_sizes_and_caption() -> None:
    md = rp.classifier_table(measured("classifier.json", CLASSIFIER, "2026-11-30"), MANIFEST)
    rows = rows_of(md)
    assert header_of(md) == ["model", "size", "top-1 (12 breeds)", "top-3", "cat vs other", "ECE"]
    assert rows[0] == ["ONNX fp32", "13.8 MB", "89.3%", "97.0%", "99.45%", "0.147"]
    assert rows[1][:3] == ["ONNX int8 (static, shipped default)", "3.8 MB", "88.8%"]
    assert rows[2][0] == "ONNX fp32, input first downscaled to 64 px"  # downscaled rows last
    assert "`tinycats eval classifier`" in md and "2026-11-30" in md and MACHINE in md
    assert "120 cats, 10 other" in md and "EfficientNet-Lite0, 3.39M parameters" in md
    assert "Not the shipped files" not in md


def test_classifier_table_names_degraded_photos_and_unsure_answers_apart() -> None:
    rep = json.loads(json.dumps(CLASSIFIER))
    rep["results"]["onnx_int8"] |= {"unsure": 0.081, "top1_all_when_sure": 0.952}
    for name, v in (("nearest64", 0.81), ("jpeg20", 0.88)):
        rep["results"][f"onnx_int8_degraded_{name}"] = clf_result(v)
    md = rp.classifier_table(measured("classifier.json", rep), MANIFEST)
    assert len(rows_of(md)) == 3  # the degraded results are a sentence, not rows
    assert "64 px and back (nearest) 81.0%, JPEG quality 20 88.0%" in md
    assert "8.1% of the test images" in md and "95.2% right" in md


def test_classifier_table_flags_files_that_are_no_longer_shipped() -> None:
    man = json.loads(json.dumps(MANIFEST))
    man["models"]["classifier"]["files"]["int8"]["sha256"] = "another"
    md = rp.classifier_table(measured("classifier.json", CLASSIFIER), man)
    assert "Not the shipped files: int8" in md


def test_generator_table_rows_sizes_fid_reference_and_per_breed() -> None:
    reps = [measured("generator.json", gen_report("fp32", 0.7708)),
            measured("generator-int8.json", gen_report("int8", 0.7474, fid=None))]
    md = rp.generator_table(reps, MANIFEST)
    head, rows = header_of(md), rows_of(md)
    assert "second judge (mean / min)" not in head  # no judge section: no column
    assert rows[0][:4] == ["ONNX fp32 (shipped default)", "39.8 MB", "77.1% / 40.6%", "9%"]
    assert rows[0][head.index("FID")] == "132.6 (real vs real: 35.8)"
    assert rows[0][head.index("KID")] == "0.068"
    assert rows[0][head.index("near-copies")] == "1.6%"
    assert rows[1][head.index("FID")] == "not measured (`--no-fid`)"
    assert rows[1][head.index("KID")] == ""
    assert "Heun, 10 steps, CFG 5, shift 3" in md and "seed 1234" in md
    assert "81.7% of the real test crops" in md and "384 samples against 631" in md
    assert "Per breed (fp32): " in md and "Siamese 41%" in md
    assert "9.84M parameters" in md and "2026-12-01, " + MACHINE in md


def test_generator_table_flags_breed_figures_from_a_classifier_no_longer_shipped() -> None:
    same, other = gen_report("fp32", 0.77), gen_report("int8", 0.75, fid=None)
    same["breed_accuracy"]["classifier_sha256"] = "c8"  # the manifest's int8 classifier
    other["breed_accuracy"]["classifier_sha256"] = "an older classifier"
    md = rp.generator_table([measured("generator.json", same),
                             measured("generator-int8.json", other)], MANIFEST)
    assert "no longer shipped: generator-int8.json " in md
    assert "generator.json" not in md.split("no longer shipped")[1]


def test_generator_table_shows_judge_and_per_seed_figures_when_present() -> None:
    rep = gen_report("fp32", 0.75)
    rep["sampler"] = {**rep["sampler"], "seeds": [1234, 99]}
    del rep["sampler"]["seed"]
    rep["breed_accuracy"]["per_seed"] = {
        "1234": {"mean": 0.77, "min": 0.41, "classified_as_other": 0.09},
        "99": {"mean": 0.73, "min": 0.30, "classified_as_other": 0.11}}
    rep["judge"] = {"backbone": "efficientnet-lite2 probe", "on_real_test": {"mean": 0.9},
                    "on_samples": {"mean": 0.6, "min": 0.2},
                    "per_seed": {"1234": {"mean": 0.62, "min": 0.25},
                                 "99": {"mean": 0.58, "min": 0.15}}}
    rep["fid"]["per_seed"] = {"1234": 140.0, "99": 141.5}
    rep["kid"]["per_seed"] = {"1234": 0.07, "99": 0.072}
    rep["memorisation"]["per_seed"] = {
        "1234": {"share_samples_closer_than_5th_pct_of_test": 0.01},
        "99": {"share_samples_closer_than_5th_pct_of_test": 0.02}}
    md = rp.generator_table([measured("generator.json", rep)], MANIFEST)
    head, rows = header_of(md), rows_of(md)
    j = head.index("second judge (mean / min)")
    assert [r[0] for r in rows] == ["ONNX fp32 (shipped default), 2 seeds pooled",
                                    "fp32, seed 1234 alone", "fp32, seed 99 alone"]
    assert [r[j] for r in rows] == ["60.0% / 20.0%", "62.0% / 25.0%", "58.0% / 15.0%"]
    assert rows[2][head.index("breed accuracy (mean / min over 12 breeds)")] == "73.0% / 30.0%"
    assert rows[2][head.index("FID")] == "141.5" and rows[2][head.index("KID")] == "0.072"
    assert rows[2][head.index("near-copies")] == "2.0%"
    assert "seeds 1234, 99" in md and "efficientnet-lite2 probe, 90.0% on the real" in md


def test_generator_table_skipped_judge_and_different_samplers() -> None:
    a = gen_report("fp32", 0.77)
    a["judge"] = {"skipped": "--no-judge"}
    b = gen_report("int8", 0.70)
    b["sampler"] = {**b["sampler"], "steps": 20}
    md = rp.generator_table([measured("generator.json", a), measured("generator-int8.json", b)],
                            MANIFEST)
    head, rows = header_of(md), rows_of(md)
    assert "second judge (mean / min)" not in head
    assert [r[head.index("sampler")] for r in rows] == ["Heun, 10 steps, CFG 5, shift 3",
                                                        "Heun, 20 steps, CFG 5, shift 3"]


def test_generator_table_names_the_samples_of_a_variant_drawn_otherwise() -> None:
    a = gen_report("fp32", 0.80)
    a["sampler"] = {**a["sampler"], "n_per_breed": 64, "seeds": [1234, 99]}
    b, c = gen_report("fp16", 0.78), gen_report("int8", 0.76)
    c["sampler"] = {**c["sampler"], "n_per_breed": 64, "seeds": [1234, 99]}
    md = rp.generator_table([measured("generator.json", a), measured("generator-fp16.json", b),
                             measured("generator-int8.json", c)], MANIFEST)
    assert [r[0] for r in rows_of(md)] == [
        "ONNX fp32 (shipped default)", "ONNX fp16 (32 samples per breed, seed 1234)", "ONNX int8"]
    assert "64 samples per breed, seeds 1234, 99" in md.splitlines()[0]


def test_speed_table_from_the_browser_bench_with_targets() -> None:
    md = rp.speed_table([measured("web-bench.json", WEB_BENCH)], None, MANIFEST)
    rows = rows_of(md)
    assert rows[0][1:] == ["61.0 / 73.5 ms", "25 ms", "**missed**"]
    assert rows[1][0].startswith("browser: one 64x64 cat (10 Heun steps, guidance 5; fp32, WASM)")
    assert rows[1][1:] == ["1.11 / 1.22 s", "2 s", "met"]
    assert rows[2][1:] == ["1,354 ms / 824 ms", "1 s", "**missed** / met"]
    assert "2026-12-01, " + MACHINE in md and "Chromium 156" in md
    assert "no longer shipped" not in md


def test_speed_table_adds_cli_rows_names_the_machine_and_flags_stale_files() -> None:
    cli = {"command": "tinycats bench generator", "when": "2026-12-02T10:00:00Z",
           "machine": {"cpus": 2, "model": "Intel Xeon", "features": ["AMX"]},
           "rows": [{"model": "generator", "variant": "int8", "batch": 2, "median_ms": 6.2,
                     "image_s": 0.2}]}
    web = json.loads(json.dumps(WEB_BENCH))
    web["generate"]["sha256"] = "an older file"
    md = rp.speed_table([measured("web-bench.json", web)],
                        rp.Measured("cli-bench.json", cli, "2026-12-02", rp.machine_text(
                            cli["machine"])), MANIFEST)
    rows = rows_of(md)
    assert rows[3][:2] == ["CLI (onnxruntime): generator int8, one network call, batch 2, median",
                           "6.2 ms"]
    assert rows[4][1] == "0.20 s"
    assert "2026-12-02, 2-vCPU Intel Xeon, AMX" in md
    assert "no longer shipped (generator-fp32.onnx)" in md
    assert "no benchmark" in rp.speed_table([], None)


# -- provenance --------------------------------------------------------------------------------
def test_upscaler_table_bicubic_against_the_model_on_real_and_generated_cats() -> None:
    real = {"n": 631, "sampler": {"steps": 4, "s": 0.05, "solver": "heun"},
            "original": {"classifier": {"mean": 0.848, "min": 0.72}},
            "bicubic": {"psnr_db": 27.1234, "fid": 80.04,
                        "classifier": {"mean": 0.827, "min": 0.65}},
            "model": {"psnr_db": 26.5, "fid": 40.0}}
    figs = {"classifier": {"mean": 0.7, "min": 0.4}, "fid": 150.0, "kid": 0.1,
            "judge": {"on_samples": {"mean": 0.72, "min": 0.38}}}
    cascade = {"settings": {"seeds": [1234, 99]}, "n_samples": 768, "n_real": 631,
               "base_64": {"classifier": {"mean": 0.735, "min": 0.383}},
               "bicubic": figs, "upscaler": {**figs, "fid": 90.0}}
    md = rp.upscaler_table([rp.Measured("upscaler.json", real, "2026-12-06", MACHINE),
                            rp.Measured("cascade.json", cascade, "2026-12-06", MACHINE)],
                           {"models": {"upscaler": {"model": {"params": 1668660}}}})
    rows = rows_of(md)
    assert rows[0] == ["real test faces, the 128 px originals", "", "", "", "84.8% / 72.0%", ""]
    assert rows[1] == ["real test faces, 64 px → 128 px, bicubic", "27.12", "80.0", "",
                       "82.7% / 65.0%", ""]
    assert rows[2][:3] == ["real test faces, 64 px → 128 px, upscaler", "26.50", "40.0"]
    assert rows[2][4] == ""  # not measured: left blank, not invented
    assert rows[3][2:] == ["150.0", "0.100", "70.0% / 40.0%", "72.0% / 38.0%"]
    assert rows[4][0].endswith("upscaler") and rows[4][2] == "90.0"
    assert "1.67M parameters" in md and "2026-12-06, " + MACHINE in md
    assert "73.5% / 38.3% breed accuracy" in md and "tinycats eval cascade" in md
    assert rp.upscaler_table([]).startswith("**Upscaler**: no upscaler figures")


def test_speed_table_reads_the_two_stage_bench_as_a_ratio_against_its_target() -> None:
    up = {"targets": {}, "upscale": {"unit": "one cat then upscale", "backend": "wasm",
                                     "threads": 2, "runs": 5, "latencyMs": {"median": 900.0},
                                     "base": {"latencyMs": {"median": 500.0}}}}
    row = rows_of(rp.speed_table([measured("web-bench-upscale.json", up)], None, MANIFEST))[0]
    assert row[0].startswith("browser: one 128x128 cat / its 64 px stage alone")
    assert row[1:] == ["0.90 / 0.50 s = 1.80x", "1.6x", "**missed**"]


def test_speed_table_reads_browser_over_native_ratios_against_their_target() -> None:
    bench = {"targets": {"nativeRatio": 2},
             "native": {"threads": 2, "classify": {"variant": "fp32",
                                                   "latencyMs": {"median": 10.0}},
                        "generate": {"variant": "fp32", "latencyMs": {"median": 400.0}}},
             "ratios": {"classify": 3.5, "generate": 1.9}}
    md = rp.speed_table([measured("web-bench.json", bench)], None, MANIFEST)
    rows = rows_of(md)
    assert [r[1:] for r in rows] == [["3.50x", "2x", "**missed**"], ["1.90x", "2x", "met"]]
    assert rows[0][0].startswith("browser / native onnxruntime (2 threads): classify one photo")


def test_provenance_own_fields_then_a_record_of_these_exact_bytes(tmp_path: Path) -> None:
    raw = b'{"a": 1}'
    rec = {"x.json": {"sha256": rp.sha256_bytes(raw), "date": "2026-11-30", "machine": "M"}}
    assert rp.provenance("x.json", {"a": 1}, raw, rec) == ("2026-11-30", "M", None)
    # the report changed since it was recorded: the record no longer counts
    assert rp.provenance("x.json", {"a": 2}, b'{"a": 2}', rec) == (None, None, None)
    # a report's own date wins; the record's machine words win over the bench's CPU name
    assert rp.provenance("x.json", WEB_BENCH, raw, rec) == ("2026-12-01", "M", None)
    assert rp.provenance("y.json", WEB_BENCH, raw, rec) == ("2026-12-01", "2-vCPU AMD EPYC", None)
    rec["x.json"]["command"] = "node bench.mjs --only generate"
    assert rp.provenance("x.json", {"a": 1}, raw, rec)[2] == "node bench.mjs --only generate"
    assert rp.provenance("x.json", {"command": "own"}, raw, {})[2] == "own"


def test_a_report_without_a_date_is_refused_with_the_command_to_record_one(
        project: dict[str, Path]) -> None:
    write_json(project["reports"] / "generator.json", gen_report("fp32", 0.8))  # re-measured
    with pytest.raises(rp.ReportError, match=r"reports/generator.json: when was it measured\?"
                       r".*tinycats report --stamp reports/generator.json --date"):
        rp.regenerate(project["readme"], project["reports"], project["manifest"])


# -- the README --------------------------------------------------------------------------------
def test_replace_sections_rewrites_only_between_markers() -> None:
    out = rp.replace_sections(README, {"classifier": "NEW\n", "generator": "G", "speed": "S"})
    assert "old classifier table" not in out and "old speed" not in out
    assert "<!-- report:classifier -->\nNEW\n<!-- /report:classifier -->" in out
    assert "<!-- report:generator -->\nG\n<!-- /report:generator -->" in out
    assert out.startswith("# project\n\nintro\n") and "\nbetween\n" in out and out.endswith("end\n")
    assert rp.replace_sections(out, {"classifier": "NEW"}) == out  # idempotent


def test_replace_sections_needs_each_marker_pair_once() -> None:
    with pytest.raises(rp.ReportError, match="report:speed"):
        rp.replace_sections("# no markers\n", {"speed": "S"})
    twice = README + "<!-- report:speed -->\nx\n<!-- /report:speed -->\n"
    with pytest.raises(rp.ReportError, match="exactly one"):
        rp.replace_sections(twice, {"speed": "S"})


def cli(project: dict[str, Path], *args: str) -> Any:
    return CliRunner().invoke(app, ["report", "--readme", str(project["readme"]), "--reports",
                                    str(project["reports"]), "--manifest",
                                    str(project["manifest"]), *args])


def test_check_fails_on_a_stale_readme_and_passes_after_regeneration(
        project: dict[str, Path]) -> None:
    r = cli(project, "--check")
    assert r.exit_code == 1
    assert "README.md is out of date with reports/: run `tinycats report`" in r.output
    assert project["readme"].read_text() == README  # --check writes nothing

    r = cli(project)
    assert r.exit_code == 0, r.output
    text = project["readme"].read_text()
    assert "| ONNX fp32 | 13.8 MB | 89.3% |" in text and "77.1% / 40.6%" in text
    assert "1.11 / 1.22 s" in text and "\nbetween\n" in text
    assert "(10 Heun steps, guidance 5; int8, WASM), median / p90 of 5 | 0.60 / 0.62 s" in text
    assert "`node scripts/bench.mjs --only generate --generator-variant int8` → " \
           "`reports/web-bench-generator-int8.json`" in text
    assert cli(project, "--check").exit_code == 0

    # a report changes (and is recorded): the README is stale again
    write_json(project["reports"] / "generator-int8.json", gen_report("int8", 0.6, fid=None))
    r = cli(project, "--stamp", str(project["reports"] / "generator-int8.json"),
            "--date", "2026-12-02", "--machine", "2-vCPU Intel Xeon, AMX")
    assert r.exit_code == 0, r.output
    assert cli(project, "--check").exit_code == 0
    assert "int8: 2026-12-02, 2-vCPU Intel Xeon, AMX" in project["readme"].read_text()


def test_stamp_needs_a_date(project: dict[str, Path]) -> None:
    r = cli(project, "--stamp", str(project["reports"] / "generator.json"))
    assert r.exit_code != 0 and "--date" in r.output


def test_the_committed_readme_matches_the_committed_reports() -> None:
    root = repo_root()
    stale = rp.regenerate(root / "README.md", root / "reports",
                          root / SHIPPED_MODELS / "manifest.json", check=True)
    assert not stale, "README.md is out of date with reports/: run `tinycats report`"
