"""Triple-barrier labelling time: ``alphaloop.models.labels.triple_barrier`` (numba path scan)
against mlfinpy 0.1.2's ``get_events`` + ``get_bins`` (AFML snippets 3.2-3.7 in pandas) on the
same events, barriers and targets, in the same run; then the two sets of labels are compared.

mlfinpy pins numpy<1.27 and numba 0.60, so it runs in its own venv (bench/reference_env.sh
builds bench/.venv-ref) in a subprocess fed the same arrays through .npy files. Both sides run on
one thread. Figure: ``ratio`` = mlfinpy seconds / our seconds on the same events.

Data: a seeded synthetic geometric random walk on minute bars (synthetic, not market data).
Barriers pt = sl = 1 x target (mlfinpy decides "vertical" with log thresholds, which equal the
path test only when the multipliers are 1), target = 5 x EWM std of one-bar returns, vertical
barrier 50 bars ahead, labels with 0 at vertical touches (mlfinpy's get_bins convention).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.models.labels import daily_volatility, triple_barrier

HERE = Path(__file__).resolve().parent
N_BARS = int(os.environ.get("ALPHALOOP_BENCH_LABEL_BARS", "1000000"))
EVENT_EVERY = int(os.environ.get("ALPHALOOP_BENCH_LABEL_EVENT_EVERY", "10"))  # 100k events
VERTICAL_BARS = 50
PT_SL = (1.0, 1.0)
TARGET_SCALE = 5.0
REFERENCE_TIMEOUT_S = 3600

MLFINPY_SCRIPT = r'''
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd
from mlfinpy.labeling import get_bins, get_events

folder = Path(sys.argv[1])
index = pd.DatetimeIndex(np.load(folder / "ts.npy"))
close = pd.Series(np.load(folder / "close.npy"), index=index)
target = pd.Series(np.load(folder / "target.npy"), index=index)
events = np.load(folder / "events.npy")
vertical = events + int(sys.argv[2])
inside = vertical < len(index)
t_events = index[events]
vertical_times = pd.Series(index[vertical[inside]], index=t_events[inside])
started = time.perf_counter()
found = get_events(close, t_events, [1.0, 1.0], target, 0.0, num_threads=1,
                   vertical_barrier_times=vertical_times, verbose=False)
bins = get_bins(found, close)
seconds = time.perf_counter() - started
found = found.dropna(subset=["t1"]).loc[bins.index]
np.save(folder / "ref_start.npy", bins.index.asi8)
np.save(folder / "ref_t1.npy", pd.DatetimeIndex(found["t1"]).asi8)
np.save(folder / "ref_bin.npy", bins["bin"].to_numpy(dtype=np.int64))
import mlfinpy
print(json.dumps({"seconds": seconds, "version": getattr(mlfinpy, "__version__", "0.1.2"),
                  "numpy": np.__version__, "pandas": pd.__version__}))
'''


def synthetic_close(n_bars: int, seed: int = 11) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n_bars, freq="min")
    log_path = np.cumsum(rng.normal(0.0, 0.001, n_bars))
    return pd.Series(100.0 * np.exp(log_path), index=index, name="close")


def _time_ours(close: pd.Series, events: pd.DatetimeIndex, target: pd.Series,
               repeats: int = 3) -> tuple[float, pd.DataFrame]:
    best, out = np.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        out = triple_barrier(close, events, PT_SL, VERTICAL_BARS, target, vertical_label="zero")
        best = min(best, time.perf_counter() - started)
    return best, out


def _reference_python() -> tuple[str | None, str | None]:
    try:
        done = subprocess.run(["bash", str(HERE / "reference_env.sh")], check=False,
                              capture_output=True, text=True, timeout=1200)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"reference_env.sh failed: {exc!r}"
    if done.returncode != 0:
        return None, f"reference_env.sh exit {done.returncode}: {done.stderr.strip()[-800:]}"
    return done.stdout.strip().splitlines()[-1], None


def _run_mlfinpy(folder: Path) -> dict:
    python, error = _reference_python()
    if error:
        return {"error": error}
    script = folder / "mlfinpy_labels.py"
    script.write_text(MLFINPY_SCRIPT)
    try:
        done = subprocess.run([python, str(script), str(folder), str(VERTICAL_BARS)],
                              check=False, capture_output=True, text=True,
                              timeout=REFERENCE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"mlfinpy did not finish within {REFERENCE_TIMEOUT_S} s"}
    if done.returncode != 0:
        return {"error": f"mlfinpy exit {done.returncode}: {done.stderr.strip()[-800:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mlfinpy_bin_rule(ret: np.ndarray, trgt: np.ndarray) -> np.ndarray:
    """mlfinpy's get_bins labels (barrier_touched, pt = sl = 1) recomputed from our returns: it
    compares the log return with +-log(1 + trgt), so a vertical touch whose return lies between
    -trgt and -(1 - 1/(1 + trgt)) gets -1 although the path never crossed -trgt."""
    log_ret, edge = np.log1p(ret), np.log1p(trgt)
    return np.where((ret > 0) & (log_ret > edge), 1, np.where((ret < 0) & (log_ret < -edge), -1, 0))


def _agreement(ours: pd.DataFrame, folder: Path) -> dict:
    ref = pd.DataFrame({"t1": np.load(folder / "ref_t1.npy"),
                        "label": np.load(folder / "ref_bin.npy")},
                       index=np.load(folder / "ref_start.npy"))
    mine = pd.DataFrame({"t1": pd.DatetimeIndex(ours["t1"]).asi8,
                         "label": ours["label"].to_numpy(),
                         "explained": _mlfinpy_bin_rule(ours["ret"].to_numpy(),
                                                        ours["trgt"].to_numpy())},
                        index=ours.index.asi8)
    common = mine.index.intersection(ref.index)
    mine, ref = mine.loc[common], ref.loc[common]
    t1_equal = mine["t1"].to_numpy() == ref["t1"].to_numpy()
    label_equal = mine["label"].to_numpy() == ref["label"].to_numpy()
    explained = ~label_equal & (mine["explained"].to_numpy() == ref["label"].to_numpy())
    return {
        "events_labelled_ours": len(ours), "events_labelled_mlfinpy": len(ref),
        "events_in_both": len(common),
        "touch_times_equal": int(t1_equal.sum()), "labels_equal": int(label_equal.sum()),
        "labels_differ": int((~label_equal).sum()),
        "labels_differ_by_mlfinpy_log_threshold": int(explained.sum()),
        "labels_differ_at": [str(pd.Timestamp(t)) for t in common[~label_equal][:5]],
        "agree": bool(len(common) == len(ours) == len(ref) and t1_equal.all()
                      and (label_equal | explained).all()),
        "note": "agree = same events and touch times everywhere, and labels equal except where "
                "mlfinpy's get_bins uses -log(1+trgt) as the stop-loss edge (vertical touches "
                "with return in [-trgt, -trgt/(1+trgt)) get -1 from mlfinpy, 0 from the path)",
    }


def run() -> dict:
    close = synthetic_close(N_BARS)
    target = TARGET_SCALE * daily_volatility(close, span=100, lookback=1)
    events = close.index[1::EVENT_EVERY]
    started = time.perf_counter()
    triple_barrier(close.iloc[:1000], None, PT_SL, VERTICAL_BARS, target)  # numba compile/cache
    compile_s = time.perf_counter() - started
    ours_s, ours = _time_ours(close, events, target)
    all_bars_s, all_bars = _time_ours(close, close.index[1:], target, repeats=1)
    result = {
        "what": "triple-barrier labelling: ours (numba) vs mlfinpy get_events + get_bins, "
                "same events and targets, one thread each, same run",
        "data": f"synthetic seeded geometric random walk, {N_BARS:,} minute bars "
                "(synthetic, not market data)",
        "settings": {"events": len(events), "pt_sl": list(PT_SL),
                     "vertical_bars": VERTICAL_BARS, "target": f"{TARGET_SCALE} x EWM(100) std"},
        "ours": {"seconds": round(ours_s, 4), "events_per_s": round(len(events) / ours_s),
                 "first_call_compile_or_cache_load_s": round(compile_s, 2),
                 "barrier_counts": ours["barrier"].value_counts().to_dict(),
                 "every_bar_events": len(all_bars), "every_bar_seconds": round(all_bars_s, 4)},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "ts.npy", close.index.to_numpy())
        np.save(folder / "close.npy", close.to_numpy())
        np.save(folder / "target.npy", target.to_numpy())
        np.save(folder / "events.npy", np.arange(1, N_BARS, EVENT_EVERY))
        reference = _run_mlfinpy(folder)
        if "error" not in reference:
            result["mlfinpy"] = {"seconds": round(reference["seconds"], 2),
                                 "events_per_s": round(len(events) / reference["seconds"]),
                                 "version": reference["version"],
                                 "numpy": reference["numpy"], "pandas": reference["pandas"]}
            result["ratio"] = round(reference["seconds"] / ours_s, 1)
            result["cross_check"] = _agreement(ours, folder)
        else:
            result["mlfinpy"] = reference
            result["ratio"] = None
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
