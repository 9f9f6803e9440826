"""The GitHub Actions workflows (.github/workflows/*.yml) refer only to things that exist: every
`make` target in the Makefile, every `npm run` script in web/package.json, every script file,
every `tinycats` command and its options; and ci.yml tests the Python versions pyproject.toml
declares. (A YAML-level lint is actionlint / zizmor; this checks what they cannot know.)
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    # YAML 1.1 reads the key `on` as True
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def run_blocks(doc: dict[str, Any]) -> list[str]:
    return [step["run"] for job in doc["jobs"].values() for step in job.get("steps", [])
            if "run" in step]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


def npm_scripts() -> set[str]:
    return set(json.loads((ROOT / "web" / "package.json").read_text())["scripts"])


def commands(script: str) -> list[list[str]]:
    """The simple commands of a shell block, split at newlines, ;, &&, || and |; line
    continuations joined; `if`/`then`/... keywords dropped."""
    script = script.replace("\\\n", " ")
    out = []
    for line in script.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part)
            except ValueError:  # a quote that spans the separators: take the words as they are
                words = part.split()
            while words and words[0] in ("if", "then", "else", "elif", "fi", "!", "do", "done"):
                words = words[1:]
            if words:
                out.append(words)
    return out


def check_tinycats(words: list[str]) -> None:
    """`tinycats SUB [SUB2] --opt ...`: the subcommands exist and so do the long options."""
    from tinycats.cli.main import app

    cmd: Any = typer.main.get_command(app)
    rest = words[1:]
    while hasattr(cmd, "commands") and rest and not rest[0].startswith("-"):
        sub = cmd.commands.get(rest[0])
        assert sub is not None, f"no command {rest[0]!r} in {' '.join(words)}"
        cmd, rest = sub, rest[1:]
    known = {o for p in cmd.params for o in getattr(p, "opts", [])}
    known |= {"--help", "-h"}
    for w in rest:
        if w.startswith("--"):
            assert w.split("=", 1)[0] in known, f"{w} is not an option of {' '.join(words)}"


def check_command(words: list[str], cwd: Path | None, where: str) -> None:
    """One simple command; ``cwd`` None: a folder outside the repository (no path checks)."""
    if words[0] == "make":
        targets = make_targets()
        for w in words[1:]:
            if not w.startswith("-") and "=" not in w:
                assert w in targets, f"{where}: make target {w!r} is not in the Makefile"
    elif words[0] == "npm" and words[1:2] == ["run"]:
        assert words[2] in npm_scripts(), f"{where}: npm script {words[2]!r} does not exist"
    elif Path(words[0]).name == "tinycats":  # on PATH, or a venv's bin/tinycats
        check_tinycats(words)
    if cwd is None or words[0] == "echo":
        return
    for w in words:
        # a path into the repository (not a variable, a glob, an option, a URL or an assignment)
        if "/" in w and not w.startswith(("-", "$")) and not any(c in w for c in "$*=:()"):
            assert (cwd / w).exists() or (ROOT / w).exists(), f"{where}: {w} does not exist"


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pages.yml", "release.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_refers_to_what_exists(path: Path) -> None:
    doc = load(path)
    assert doc.get("on") and doc.get("jobs"), path
    for block in run_blocks(doc):
        cwd: Path | None = ROOT
        for words in commands(block):
            if words[0] == "cd" and len(words) > 1:
                if "$" in words[1] or cwd is None:
                    cwd = None  # e.g. $RUNNER_TEMP: outside the checkout
                else:
                    cwd = cwd / words[1]
                    assert cwd.is_dir(), f"{path.name}: cd {words[1]}"
                continue
            check_command(words, cwd, path.name)


def test_the_checker_catches_what_is_missing() -> None:
    with pytest.raises(AssertionError, match="make target 'no-such-target'"):
        check_command(["make", "lint", "no-such-target", "PYTHON=python"], ROOT, "t")
    with pytest.raises(AssertionError, match="npm script"):
        check_command(["npm", "run", "nope"], ROOT / "web", "t")
    with pytest.raises(AssertionError, match="does not exist"):
        check_command(["bash", "scripts/missing.sh"], ROOT, "t")
    with pytest.raises(AssertionError, match="no command 'publishh'"):
        check_command(["tinycats", "publishh"], ROOT, "t")
    with pytest.raises(AssertionError, match="--dry-run is not an option"):
        check_command(["tinycats", "publish", "--out", "x", "--dry-run"], ROOT, "t")
    check_command(["tinycats", "publish", "--out", "x", "--push", "$HF_REPO"], ROOT, "t")


def test_ci_tests_the_declared_python_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if c.startswith("Programming Language :: Python :: 3.")}
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    matrices = [job.get("strategy", {}).get("matrix", {}).get("python", [])
                for job in ci["jobs"].values()]
    assert declared == {str(v) for m in matrices for v in m}
    assert {"push", "pull_request"} <= set(ci["on"])


def test_release_publishes_with_the_real_flags_and_attaches_the_models() -> None:
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "tinycats publish" in release and "--push" in release
    assert "secrets.HF_TOKEN" in release
    assert "web/public/models/*.onnx" in release and "web/public/models/manifest.json" in release
