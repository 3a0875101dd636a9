"""The non-editable install the service images make (``pip install .[service]``) carries what
the code reads at run time: the shipped training configs, the SQL migrations and the generated
protobuf stubs. Built here as a wheel from a copy of the sources (nothing is written to the
work tree), then its file list is checked and the shipped config loaded from inside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("libs", "services"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(out), str(src)], check=True, timeout=240)
    (built,) = out.glob("alphaloop-*.whl")
    return built


def test_the_wheel_carries_the_shipped_configs_migrations_and_stubs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.name for p in (ROOT / "services/models/alphaloop/models/configs").glob(
        "*.yaml"))
    assert shipped == ["default.yaml", "universe.yaml"]
    for name in shipped:
        assert f"alphaloop/models/configs/{name}" in names
    assert any(n.startswith("alphaloop/v1/") and n.endswith("_pb2.pyi") for n in names)
    assert any(n.endswith(".sql") for n in names) == any(
        (ROOT / "libs").rglob("*.sql"))


def test_the_config_inside_the_wheel_is_the_one_load_config_reads(wheel):
    from alphaloop.models.training import DEFAULT_CONFIG_PATH, load_config

    inside = yaml.safe_load(zipfile.ZipFile(wheel).read("alphaloop/models/configs/default.yaml"))
    assert inside == yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    assert load_config("universe").name == "universe"
    assert load_config("default") == load_config()
