"""The overnight pipeline (features -> labels -> purged-CV training -> calibration -> backtests
and grades of every strategy) on the synthetic universe, in symbols per hour, against the
original system's 500-1,000 symbols/hour (issue 4, item 12a; target 50,000 symbols/hour at
8,000 symbols x 2,520 bars on 2 cores).

Size: ALPHALOOP_BENCH_PIPELINE_SYMBOLS (default 200) x ALPHALOOP_BENCH_PIPELINE_BARS (default
504). The default is far below the target size, which does not fit in memory in one piece with
the features library; the JSON says which size was measured (``measured_at_target_size``) and
a symbols/hour figure extrapolated linearly from a smaller size is NOT a measurement of the
target. Peak memory is ``resource.getrusage`` max RSS of this process."""

from __future__ import annotations

import os
import resource
import tempfile
import time


def run() -> dict:
    from alphaloop.grading.pipeline import grade_predictions
    from alphaloop.ingest.sources import SyntheticSource
    from alphaloop.models.training import load_config, train

    n_symbols = int(os.environ.get("ALPHALOOP_BENCH_PIPELINE_SYMBOLS", "200"))
    n_bars = int(os.environ.get("ALPHALOOP_BENCH_PIPELINE_BARS", "504"))
    bars = SyntheticSource(n_symbols, n_bars, 7).generate()
    if "timestamp" in bars.columns and "ts" not in bars.columns:
        bars = bars.rename(columns={"timestamp": "ts"})
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = train(load_config(), bars, None, run_dir=tmp)
    trained = time.perf_counter()
    outcome = grade_predictions(bars, result.test)
    end = time.perf_counter()
    seconds = end - start
    return {
        "name": "pipeline",
        "symbols": n_symbols, "bars_per_symbol": n_bars,
        "seconds": seconds, "seconds_train": trained - start, "seconds_grade": end - trained,
        "train_timings": result.timings,
        "symbols_per_hour": n_symbols / seconds * 3600,
        "baseline_symbols_per_hour": [500, 1000],
        "target_symbols_per_hour": 50_000,
        "target_size": "8000 symbols x 2520 bars",
        "measured_at_target_size": n_symbols >= 8000 and n_bars >= 2520,
        "strategies": {n: s.metrics.get("sharpe") for n, s in outcome.strategies.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, default=str))
