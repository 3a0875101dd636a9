"""Run every benchmark in bench/ (files named bench_*.py, each exposing ``run() -> dict``) and
write one JSON file per benchmark plus a summary to bench/results/. Every figure is a ratio
against a reference measured in the same run, so results compare across machines."""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark names (default: all), e.g. store_bulk")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    files = sorted(HERE.glob("bench_*.py"))
    if args.names:
        files = [f for f in files if f.stem.removeprefix("bench_") in args.names]
        if not files:
            parser.error(f"no benchmark named {args.names}")
    summary = {"machine": {"python": sys.version.split()[0], "platform": platform.platform()},
               "results": {}}
    for path in files:
        name = path.stem.removeprefix("bench_")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.perf_counter()
        result = module.run()
        result["wall_seconds"] = round(time.perf_counter() - started, 2)
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
        summary["results"][name] = result
        print(json.dumps({name: result}, indent=2), flush=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
