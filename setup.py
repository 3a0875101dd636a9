"""Maps the one ``alphaloop`` namespace onto its source roots (libs/*, services/*), which
pyproject's find directive cannot express. Everything else lives in pyproject.toml."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOTS = ["libs/common", "libs/cli"] + sorted(str(p) for p in Path("services").glob("*") if p.is_dir())

packages: list[str] = []
package_dir: dict[str, str] = {}
for root in ROOTS:
    for pkg in find_namespace_packages(root, include=["alphaloop.*"]):
        packages.append(pkg)
        top = ".".join(pkg.split(".")[:2])
        package_dir[top] = f"{root}/{top.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
