"""Layout rules from the foundation issue: libs/common never imports a service, every service
has its extra, and the top-level folders exist."""

import ast
import tomllib
from pathlib import Path

import pytest

from alphaloop.common.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_libs_common_never_imports_a_service():
    offenders = []
    for path in (ROOT / "libs" / "common").rglob("*.py"):
        for module in _imported_modules(path):
            parts = module.split(".")
            if parts[0] == "alphaloop" and len(parts) > 1 and parts[1] in SERVICES:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_top_level_layout_exists():
    for name in ("proto", "libs/common", "helm", "docker", "tests", "bench", "Makefile",
                 "README.md", "pyproject.toml", ".ci/run"):
        assert (ROOT / name).exists(), name
    for service in SERVICES:
        package = ROOT / "services" / service / "alphaloop" / service
        for module in ("config.py", "api.py", "main.py"):
            assert (package / module).is_file(), f"{service}/{module}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_an_optional_dependency_group(service):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert service in extras
    assert service in extras["all"][0]


def test_makefile_help_lists_every_target_with_a_line():
    text = (ROOT / "Makefile").read_text()
    targets = [line.split(":")[0] for line in text.splitlines()
               if line and line[0].isalpha() and ":" in line and "=" not in line.split(":")[0]]
    documented = {line.split(":")[0] for line in text.splitlines() if "## " in line and ":" in line}
    phony = next(line for line in text.splitlines() if line.startswith(".PHONY"))
    for target in phony.split(":")[1].split():
        assert target in targets and target in documented, target
