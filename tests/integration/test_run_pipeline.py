"""`alphaloop run` end to end (once, in a subprocess, on a fresh state folder): report.json has
the promised structure, the benchmark's return equals an independent pandas computation from
the stored bars, promotion follows the gate, and the HTML carries the verdict."""

import json
import os
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    exe = os.path.join(os.path.dirname(sys.executable), "alphaloop")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHALOOP_")}
    proc = subprocess.run([exe, "run", "--state-dir", str(tmp / "state"), "--runs-dir",
                           str(tmp / "runs")], env=env, capture_output=True, text=True,
                          timeout=600, check=False, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folders = list((tmp / "runs").iterdir())
    assert len(folders) == 1
    report = json.loads((folders[0] / "report.json").read_text())
    return tmp, folders[0], report, proc.stdout


def test_report_structure(run_output):
    _, _, report, stdout = run_output
    for key in ("data", "splits", "models", "strategies", "timings", "verdict"):
        assert key in report
    data = report["data"]
    assert data["symbols"] > 400 and data["sources"] and "high_low_bracket" in data[
        "quality_counts"]
    assert data["start"] < data["end"]
    s = report["splits"]
    assert s["train_start"] < s["train_end"] < s["test_start"] <= s["oos_decisions_start"]
    (model,) = report["models"].values()
    assert model["mlflow_run_id"] and model["model_version"]
    for k in ("ece_before", "ece_after", "brier_before", "brier_after"):
        assert k in model["calibration"]["test"]
    assert {"auc", "accuracy", "log_loss"} <= set(model["cv"])
    assert {"ml", "momentum", "mean_reversion", "buy_and_hold"} <= set(report["strategies"])
    for name, strat in report["strategies"].items():
        for k in ("sharpe", "sortino", "calmar", "max_drawdown", "total_return",
                  "deflated_sharpe", "probabilistic_sharpe", "turnover", "win_rate"):
            assert k in strat["metrics"], (name, k)
        assert 0 <= strat["score"] <= 100 and strat["level"]
        # promoted only if the gate passed
        if strat["promoted"]:
            assert strat["gate_failures"] == []
    assert "auc" in report["strategies"]["ml"]["metrics"]
    assert report["timings"]["total"] > 0
    assert "out-of-sample" in report["verdict"] and "after costs" in report["verdict"]
    assert ("beat" in report["verdict"]) or ("lost to" in report["verdict"])
    assert "verdict" in stdout and "buy_and_hold" in stdout


def test_benchmark_return_matches_independent_computation(run_output):
    """Equal-weighted buy-and-hold of the symbols trading on every OOS date, decided at the
    close of the first OOS decision date, filled at the next open, marked at the last close:
    frictionless, total return = mean_i(close_last_i / open_entry_i) - 1 (all cash invested at
    one open). Compared with the report's frictionless (gross) figure to 1e-9; the after-cost
    figure must be below it by at most 30 bps (5 bps spread, impact with k=0.1, $0.005/share
    commission with a $1 minimum per fill on ~400 fills of a $1M book)."""
    tmp, _, report, _ = run_output
    db = duckdb.connect(str(tmp / "state" / "alphaloop.duckdb"), read_only=True)
    bars = db.execute("select symbol, ts, open, close from bars where interval = '1d'").df()
    db.close()
    bars["ts"] = pd.to_datetime(bars["ts"], utc=True)
    start = pd.Timestamp(report["splits"]["oos_decisions_start"])
    end = pd.Timestamp(report["splits"]["oos_decisions_end"])
    window = bars[(bars.ts >= start) & (bars.ts <= end)]
    close = window.pivot(index="ts", columns="symbol", values="close")
    opens = window.pivot(index="ts", columns="symbol", values="open")
    members = close.columns[close.notna().all()]
    entry = opens[members].iloc[1]
    last = close[members].iloc[-1]
    expected = float(np.mean(last / entry) - 1)
    bh = report["strategies"]["buy_and_hold"]
    assert bh["gross_total_return"] == pytest.approx(expected, abs=1e-9)
    net = bh["metrics"]["total_return"]
    assert expected - 0.003 <= net <= expected + 1e-12


def test_html_has_verdict_and_plots(run_output):
    _, folder, report, _ = run_output
    html = (folder / "report.html").read_text()
    import html as html_mod
    assert html_mod.escape(report["verdict"]) in html
    assert html.count("data:image/png;base64,") >= 4  # equity, drawdown, calibration, importances
