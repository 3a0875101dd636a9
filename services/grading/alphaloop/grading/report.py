"""The run report: ``<runs_dir>/<timestamp>/report.json`` and ``report.html`` (timestamp from an
injected clock, UTC, ``YYYYmmddTHHMMSSZ``), and the terminal summary table.

report.json keys: ``data`` (sources, symbols, date range, quality counts), ``splits`` (train /
test dates and the out-of-sample backtest window), ``models`` (per model: CV metrics, ECE and
Brier before/after calibration, MLflow run id and version; ``meta``: the meta-label model's CV,
OOF and test scores when one was trained), ``strategies`` (per strategy, ``ml_meta`` only with a
meta-label model: every metric of ``compute_metrics``, score, grade level, promoted, gate
failures), ``promotion``, ``costs``, ``timings`` (seconds per stage), ``verdict`` and ``note``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NOTE = ("All strategy figures are out-of-sample (the held-out test window of the training "
        "split, which no model or calibrator saw) and after costs: half spread, square-root "
        "impact, commission and short borrow.")


@dataclass
class Report:
    data: dict[str, Any]
    created: str
    # Plot inputs (not in the JSON): equity curves, importances, calibration curve.
    equity: dict[str, pd.Series] = field(default_factory=dict)
    importances: pd.DataFrame | None = None
    calibration_curve: dict[str, list[dict]] = field(default_factory=dict)
    folder: Path | None = None

    @property
    def verdict(self) -> str:
        return self.data["verdict"]

    def write(self, runs_dir: Path) -> Path:
        from alphaloop.grading.report_html import render_html

        folder = Path(runs_dir) / self.created
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(json.dumps(self.data, indent=2, default=_default,
                                                       allow_nan=False))
        (folder / "report.html").write_text(render_html(self))
        self.folder = folder
        return folder


def _default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _finite(obj: Any) -> Any:
    """NaN / inf -> None, recursively (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return obj


def build_report(result: Any, outcome: Any, data_info: dict, decision: dict,
                 timings: dict[str, float], *, clock: Any = None) -> Report:
    from alphaloop.common.clock import LiveClock
    from alphaloop.grading.pipeline import verdict_sentence

    now = (clock or LiveClock()).now()
    created = pd.Timestamp(now).tz_convert("UTC").strftime("%Y%m%dT%H%M%SZ")
    cal = result.calibration
    model_key = f"{result.config.registry_name}"
    models = {model_key: {
        "model_class": result.config.model, "mode": result.config.mode,
        "mlflow_run_id": result.run_id, "model_version": result.model_version,
        "alias": decision["alias"],
        "cv": result.cv_mean(), "cv_folds": result.cv_folds.to_dict(orient="records"),
        "oof": result.oof_metrics(), "test": result.test_metrics(),
        "calibration": {"method": cal.method, "candidates": cal.candidates,
                        "oof": cal.oof, "test": cal.test},
        "n_features": len(result.feature_names), "data_fingerprint": result.fingerprint.as_dict(),
    }}
    meta = getattr(result, "meta", None)
    if meta is not None:
        models[model_key]["meta"] = meta.summary()
    split = result.split.as_dict()
    splits = {"train_start": split["train_start"], "train_end": split["train_end"],
              "test_start": split["test_start"], "test_end": split["test_end"],
              "n_train_events": split["n_train"], "n_test_events": split["n_test"],
              "n_purged": split["n_purged"],
              "oos_decisions_start": outcome.window[0].isoformat(),
              "oos_decisions_end": outcome.window[1].isoformat(),
              "oos_bars": len(outcome.strategies["buy_and_hold"].returns)}
    costs = asdict(outcome.costs)
    data = {
        "created": created,
        "data": data_info,
        "splits": splits,
        "models": models,
        "strategies": {n: s.as_dict() for n, s in outcome.strategies.items()},
        "n_trials": outcome.n_trials,
        "promotion": decision,
        "costs": {**costs, "note": "impact_k = 0.1: low end of the 0.1-1 literature range "
                                   "for liquid large caps"},
        "timings": timings,
        "verdict": verdict_sentence(outcome),
        "note": NOTE,
    }
    return Report(data=_finite(data), created=created,
                  equity={n: s.equity for n, s in outcome.strategies.items()},
                  importances=result.importances, calibration_curve=cal.curve)


def print_summary(console: Any, report: Report) -> None:
    from rich.table import Table

    table = Table(title="Strategies, out of sample, after costs")
    for col in ("strategy", "Sharpe", "total return", "max DD", "score", "level", "promoted"):
        table.add_column(col, justify="left" if col in ("strategy", "level") else "right")
    for name, s in report.data["strategies"].items():
        m = s["metrics"]

        def fmt(v, spec):
            return "n/a" if v is None else format(v, spec)
        table.add_row(name, fmt(m.get("sharpe"), ".2f"), fmt(m.get("total_return"), "+.2%"),
                      fmt(m.get("max_drawdown"), ".2%"), f"{s['score']:.1f}", s["level"],
                      "yes" if s["promoted"] else "no")
    console.print(table)
    console.print(f"[bold]verdict:[/bold] {report.verdict}")
    if report.folder is not None:
        console.print(f"report: {report.folder / 'report.json'} and "
                      f"{report.folder / 'report.html'}")
