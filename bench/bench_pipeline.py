"""The overnight pipeline on the synthetic universe, in symbols per hour, against the original
system's 500-1,000 symbols/hour (issue 4, item 12a; target 50,000 symbols/hour at 8,000 symbols
x 2,520 daily bars on 2 cores).

What is timed (``seconds``), one process, as ``alphaloop train`` + ``alphaloop grade`` run it:
data fingerprint -> features (chunked, float32) -> CUSUM events -> triple-barrier labels and
uniqueness weights -> time split -> purged 5-fold CV with LightGBM -> final model -> calibration
(cross-fitted, chosen on the OOF predictions) -> MLflow logging and registration (sqlite +
local artifacts in a temporary folder) -> out-of-sample backtests of all five strategies after
costs -> metrics, grades and the promotion gate. Not timed: generating the synthetic bars
(``seconds_generate``; a real run hydrates instead, see ``bench_store_bulk``) and numba's
first-call compilation (a warm-up run on a small universe first; compiled kernels are cached
on disk in a real deployment).

Config: ``services/models/alphaloop/models/configs/universe.yaml`` (CUSUM-sampled events, 100 trees, 63 bins;
its header says why), or ``ALPHALOOP_BENCH_PIPELINE_CONFIG``. Size:
``ALPHALOOP_BENCH_PIPELINE_SYMBOLS`` (default 8000) x ``ALPHALOOP_BENCH_PIPELINE_BARS`` (default
2520); the JSON says whether the target size was measured (``measured_at_target_size``).
Reference: the original system's 500 and 1,000 symbols/hour, as ratios (``ratio_vs_500`` ...);
those are the issue's published figures, not re-measured here. Peak memory is the process's
max RSS (``resource.getrusage``). Every figure comes from synthetic data and says so.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "services" / "models" / "alphaloop" / "models" / "configs" / "universe.yaml"


def _pipeline(bars, config, state: Path) -> dict:
    from alphaloop.grading.pipeline import grade_predictions
    from alphaloop.grading.promotion import promote
    from alphaloop.models.registry import Tracking
    from alphaloop.models.training import train

    tracking = Tracking(state_dir=state)
    start = time.perf_counter()
    result = train(config, bars, tracking, run_dir=state / "training")
    trained = time.perf_counter()
    outcome = grade_predictions(bars, result.test)
    decision = promote(outcome, tracking, config.registry_name, result.model_version,
                       actor="bench")
    end = time.perf_counter()
    return {"seconds": end - start, "seconds_train_and_log": trained - start,
            "seconds_grade": end - trained, "result": result, "outcome": outcome,
            "decision": decision}


def run() -> dict:
    from alphaloop.ingest.sources import SyntheticSource
    from alphaloop.models.training import load_config

    n_symbols = int(os.environ.get("ALPHALOOP_BENCH_PIPELINE_SYMBOLS", "8000"))
    n_bars = int(os.environ.get("ALPHALOOP_BENCH_PIPELINE_BARS", "2520"))
    config_path = Path(os.environ.get("ALPHALOOP_BENCH_PIPELINE_CONFIG", DEFAULT_CONFIG))
    config = load_config(config_path)

    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: compiles every numba kernel on a small universe (not timed)
        _pipeline(SyntheticSource(60, 400, 1).generate(), config, Path(tmp) / "warmup")

        mark = time.perf_counter()
        bars = SyntheticSource(n_symbols, n_bars, 7).generate()
        generate = time.perf_counter() - mark
        run_ = _pipeline(bars, config, Path(tmp) / "run")

    result, outcome = run_["result"], run_["outcome"]
    seconds = run_["seconds"]
    per_hour = n_symbols / seconds * 3600
    return {
        "name": "pipeline",
        "data": "synthetic (seeded GBM with jumps and volatility regimes), not market data",
        "symbols": n_symbols, "bars_per_symbol": n_bars, "bars": len(bars),
        "config": str(config_path.relative_to(ROOT) if config_path.is_relative_to(ROOT)
                      else config_path),
        "seconds": seconds, "seconds_generate": generate,
        "seconds_train_and_log": run_["seconds_train_and_log"],
        "seconds_grade": run_["seconds_grade"],
        "train_timings": result.timings,
        "grade_timings": outcome.timings,
        "events": {"train": result.split.n_train, "test": result.split.n_test,
                   "purged": result.split.n_purged},
        "symbols_per_hour": per_hour,
        "baseline_symbols_per_hour": [500, 1000],
        "ratio_vs_500": per_hour / 500, "ratio_vs_1000": per_hour / 1000,
        "target_symbols_per_hour": 50_000,
        "target_size": "8000 symbols x 2520 bars",
        "measured_at_target_size": n_symbols >= 8000 and n_bars >= 2520,
        "cv_auc": result.cv_mean()["auc"], "test_auc": result.test_metrics()["auc"],
        "strategies_sharpe_oos_after_costs": {
            n: s.metrics.get("sharpe") for n, s in outcome.strategies.items()},
        "promoted_alias": run_["decision"]["alias"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, default=str))
