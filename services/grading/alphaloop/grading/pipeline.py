"""The overnight loop in one process (``alphaloop run``): hydrate -> features -> labels ->
purged-CV training -> calibration -> out-of-sample backtests of every strategy -> metrics ->
grade -> gate -> promotion, with a report.

* Features and labels are computed inside ``alphaloop.models.training.train`` (its
  ``dataset`` timing); calibration is fitted there on the out-of-fold probabilities only.
* Every strategy is backtested on the SAME out-of-sample window: the decision dates of the
  training split's held-out test events (``t0`` from the first to the last test event), on bars
  up to the last decision date. All figures are after costs (``COSTS``); each strategy is also
  run frictionless (``gross_*`` figures) to show what the costs took.
* Costs (``COSTS``): half spread 5 bps, square-root impact with k = 0.1 (the low end of the
  literature's 0.1-1 for liquid US large caps; sigma and ADV over the 20 bars before the fill),
  commission $0.005 a share with a $1 minimum per fill, borrow 1% a year on shorts.
* ``n_trials`` (for the deflated Sharpe) counts every configuration tried: each ML variant
  per model config plus each benchmark strategy (default: 1 model x 2 ML variants + 3 = 5; 6
  with ``ml_meta``), and ``trial_sharpes`` are all strategies' annualised Sharpes.
* ``ml_meta`` (only when the predictions carry ``p_meta``, from a model trained with
  ``meta.enabled``): ``ml`` with trades whose meta-label probability is below the training
  config's ``meta.threshold`` left out, graded side by side as one more ML variant.
* Promotion: the model gets the MLflow alias ``champion`` only if an ML strategy passes the
  gate; otherwise ``challenger``. Either decision is written to the store's audit log, and every
  strategy's grade to the ``grades`` table.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pandas as pd

from alphaloop.grading import strategies as strat
from alphaloop.grading.backtest import BacktestConfig, backtest, bar_grid
from alphaloop.grading.gate import PromotionGate
from alphaloop.grading.grade import grade as grade_metrics
from alphaloop.grading.metrics import compute_metrics
from alphaloop.grading.metrics.market import factor_returns
from alphaloop.grading.metrics.trading import position_weights

#: Costs of every graded backtest (see the module docstring).
COSTS = BacktestConfig(half_spread_bps=5.0, impact_k=0.1, commission_per_share=0.005,
                       commission_min=1.0, borrow_rate_annual=0.01)
FRICTIONLESS = BacktestConfig()
INITIAL_CAPITAL = 1_000_000.0
REBALANCE_EVERY = strat.DEFAULT_REBALANCE_EVERY
#: The ML strategy filtered by the meta-label model, graded only when predictions have p_meta.
META_STRATEGY = "ml_meta"
META_COLUMN = "p_meta"
DEFAULT_META_THRESHOLD = 0.5
ML_STRATEGIES = ("ml", "ml_long_only", META_STRATEGY)
#: The ML strategies whose pass can promote a model: those the models service trades when it
#: serves the champion (calibrated p, no meta filter: the meta model is graded, not served).
PROMOTABLE_STRATEGIES = ("ml", "ml_long_only")
BENCHMARK = "buy_and_hold"
STRATEGY_NAMES = ("ml", "ml_long_only", META_STRATEGY, "momentum", "mean_reversion",
                  "buy_and_hold")


@dataclass
class StrategyOutcome:
    name: str
    ml: bool
    metrics: dict[str, float]
    score: float
    level: str
    passed_gate: bool
    gate_failures: list[str]
    promoted: bool
    returns: pd.Series
    equity: pd.Series  # net equity over the OOS window (starting at the first decision close)
    gross_total_return: float
    costs: float
    n_trades: int
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"ml": self.ml, "description": self.description, "metrics": _clean(self.metrics),
                "score": self.score, "level": self.level, "grade": self.level,
                "passed_gate": self.passed_gate, "gate_failures": list(self.gate_failures),
                "promoted": self.promoted, "gross_total_return": self.gross_total_return,
                "total_costs": self.costs, "n_trades": self.n_trades}


@dataclass
class GradingOutcome:
    strategies: dict[str, StrategyOutcome]
    window: tuple[pd.Timestamp, pd.Timestamp]
    n_trials: int
    costs: BacktestConfig
    timings: dict[str, float] = field(default_factory=dict)


def _clean(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v))
            for k, v in d.items()}


def has_meta(predictions: pd.DataFrame) -> bool:
    """Whether ``predictions`` carry a meta-label probability (``ml_meta`` is then graded)."""
    return META_COLUMN in predictions.columns and bool(predictions[META_COLUMN].notna().any())


def meta_threshold_of_run(tracking: Any, run_id: str | None) -> float:
    """The ``meta.threshold`` a training run was configured with (its logged params); the
    default for runs logged without one."""
    try:
        params = tracking.client.get_run(run_id).data.params
    except Exception:  # noqa: BLE001 - an unreadable run grades with the default
        return DEFAULT_META_THRESHOLD
    return float(params.get("meta.threshold", DEFAULT_META_THRESHOLD))


def strategy_targets(bars: pd.DataFrame, predictions: pd.DataFrame,
                     rebalance_every: int = REBALANCE_EVERY,
                     meta_threshold: float = DEFAULT_META_THRESHOLD
                     ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Target weights of every strategy over the predictions' decision window (``ml_meta``
    only when the predictions have ``p_meta``)."""
    start, end = predictions["t0"].min(), predictions["t0"].max()
    meta = {} if not has_meta(predictions) else {META_STRATEGY: strat.ml_signal(
        predictions, bars, rebalance_every=rebalance_every, meta=META_COLUMN,
        meta_threshold=meta_threshold)}
    targets = {
        "ml": strat.ml_signal(predictions, bars, rebalance_every=rebalance_every),
        "ml_long_only": strat.ml_signal(predictions, bars, long_only=True,
                                        rebalance_every=rebalance_every),
        **meta,
        "momentum": strat.momentum(bars, start=start, end=end, rebalance_every=rebalance_every),
        "mean_reversion": strat.mean_reversion(bars, start=start, end=end,
                                               rebalance_every=rebalance_every),
        "buy_and_hold": strat.buy_and_hold(bars, start=start, end=end),
    }
    every = f"rebalanced every {rebalance_every} bars"
    descriptions = {
        "ml": f"calibrated p: long p-0.5 > 0.02, short 0.5-p > 0.02, at most a decile per "
              f"side, dollar-neutral, {every}",
        "ml_long_only": f"calibrated p: long p-0.5 > 0.02 (at most the top decile), {every}",
        META_STRATEGY: f"ml, trading only events whose meta-label probability p_meta >= "
                       f"{meta_threshold:g}, {every}",
        "momentum": f"cross-sectional 63-5 bar momentum, top/bottom decile, {every}",
        "mean_reversion": f"5-bar reversal: long losers / short winners (deciles), {every}",
        "buy_and_hold": "equal-weighted index of the universe (symbols trading on every OOS "
                        "date), bought at the first OOS decision and held",
    }
    return targets, {name: descriptions[name] for name in targets}


def grade_predictions(bars: pd.DataFrame, predictions: pd.DataFrame, *,
                      n_model_configs: int = 1, gate: PromotionGate | None = None,
                      costs: BacktestConfig = COSTS,
                      rebalance_every: int = REBALANCE_EVERY,
                      meta_threshold: float = DEFAULT_META_THRESHOLD) -> GradingOutcome:
    """Backtest, measure and grade every strategy on the out-of-sample window of
    ``predictions`` (test events: symbol, t0, y, p_cal; with ``p_meta`` also ``ml_meta`` at
    ``meta_threshold``). Promotion is not decided here."""
    gate = gate or PromotionGate()
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    ts_col = "ts" if "ts" in bars.columns else "timestamp"
    start, end = predictions["t0"].min(), predictions["t0"].max()
    window_bars = bars[bars[ts_col] <= end]
    targets, descriptions = strategy_targets(window_bars, predictions, rebalance_every,
                                             meta_threshold)
    timings["strategies"] = time.perf_counter() - mark

    mark = time.perf_counter()
    close = strat.close_panel(window_bars)
    volume = strat.close_panel(window_bars, "volume")
    asset_returns = close.pct_change(fill_method=None)
    index_returns = asset_returns.mean(axis=1).iloc[1:]  # equal-weighted universe, full history
    factors = factor_returns(close, volume)
    pre = close.index[close.index < start]
    hist = slice(pre[-20] if len(pre) >= 20 else None, start)
    # ADV (currency) and daily sigma over the 20 bars before the window, for capacity; a
    # symbol without that history gets the cross-sectional median.
    adv = (close * volume).loc[hist].mean()
    adv = adv.fillna(adv.median())
    sigma = asset_returns.loc[hist].std()
    sigma = sigma.fillna(sigma.median())
    grid = bar_grid(window_bars)  # pivoted once for every run
    runs = {}
    for name, tg in targets.items():
        runs[name] = (backtest(grid, tg, config=costs, initial_capital=INITIAL_CAPITAL),
                      backtest(grid, tg, config=FRICTIONLESS, initial_capital=INITIAL_CAPITAL))
    timings["backtests"] = time.perf_counter() - mark

    mark = time.perf_counter()
    n_ml = sum(name in ML_STRATEGIES for name in targets)
    n_trials = n_model_configs * n_ml + (len(targets) - n_ml)
    sharpes = []
    for net, _ in runs.values():
        r = net.returns
        sd = r.std(ddof=1)
        sharpes.append(float(r.mean() / sd * math.sqrt(252)) if sd > 0 else 0.0)
    oos = predictions[(predictions["t0"] >= start) & (predictions["t0"] <= end)]
    p_wide = oos.pivot_table(index="t0", columns="symbol", values="p_cal", aggfunc="last")
    outcomes: dict[str, StrategyOutcome] = {}
    for name, (net, gross) in runs.items():
        is_ml = name in ML_STRATEGIES
        weights = position_weights(net.positions, close, net.equity["equity"])
        oos_weights = weights.loc[weights.index > start]
        kwargs: dict[str, Any] = {}
        if is_ml:
            kwargs.update(probabilities=oos["p_cal"].to_numpy(), labels=oos["y"].to_numpy(),
                          signal=p_wide.reindex(columns=close.columns),
                          asset_returns=asset_returns.loc[p_wide.index.min():])
        metrics = compute_metrics(
            net.returns, benchmark=index_returns, positions=oos_weights, trades=net.trades,
            n_trials=n_trials, trial_sharpes=sharpes, gross_returns=gross.returns,
            adv=adv, sigma=sigma, factors=factors, **kwargs)
        g = grade_metrics(metrics, ml=is_ml)
        verdict = gate.evaluate(metrics, ml=is_ml)
        eq = net.equity["equity"]
        eq = eq.loc[eq.index >= start]
        outcomes[name] = StrategyOutcome(
            name=name, ml=is_ml, metrics=metrics, score=float(g.score), level=str(g.level),
            passed_gate=verdict.passed, gate_failures=list(verdict.failures), promoted=False,
            returns=net.returns, equity=eq,
            gross_total_return=float((1 + gross.returns).prod() - 1),
            costs=float(net.equity["total_cost"].sum()), n_trades=len(net.trades),
            description=descriptions[name])
    timings["metrics_grade_gate"] = time.perf_counter() - mark
    return GradingOutcome(outcomes, (pd.Timestamp(start), pd.Timestamp(end)), n_trials, costs,
                          timings)


def verdict_sentence(outcome: GradingOutcome) -> str:
    """Plainly: did the ML strategy beat buy-and-hold out of sample, after costs?"""
    ml, bh = outcome.strategies["ml"], outcome.strategies[BENCHMARK]
    s_ml, s_bh = ml.metrics.get("sharpe", float("nan")), bh.metrics.get("sharpe", float("nan"))
    r_ml, r_bh = ml.metrics["total_return"], bh.metrics["total_return"]
    start, end = (t.date().isoformat() for t in outcome.window)
    both = (s_ml > s_bh) and (r_ml > r_bh)
    neither = not (s_ml > s_bh) and not (r_ml > r_bh)
    figures = (f"Sharpe {s_ml:.2f} vs {s_bh:.2f}, total return {r_ml:+.2%} vs {r_bh:+.2%}, "
               f"{start} to {end}")
    if not math.isfinite(s_ml) and r_ml == 0:
        auc = ml.metrics.get("auc", float("nan"))
        head = ("The ML strategy did not beat buy-and-hold out of sample: it took no positions, "
                f"because its calibrated probabilities did not rank the names (test AUC "
                f"{auc:.2f})")
    elif both:
        head = "The ML strategy beat buy-and-hold out of sample after costs"
    elif neither:
        head = "The ML strategy lost to buy-and-hold out of sample after costs"
    else:
        better = "Sharpe" if s_ml > s_bh else "total return"
        head = (f"The ML strategy did not clearly beat buy-and-hold out of sample after costs "
                f"(better only on {better})")
    dsr = ml.metrics.get("deflated_sharpe", float("nan"))
    n_bars = len(ml.returns)
    caveat = ""
    if both and not (dsr > 0.95):
        # A win that the deflated Sharpe cannot tell from luck must not read as skill.
        caveat = (f" The difference is not statistically significant: deflated Sharpe ratio "
                  f"{dsr:.2f} (0.95 needed) over {n_bars} bars, "
                  f"so this is no evidence of skill.")
    meta = outcome.strategies.get(META_STRATEGY)
    if meta is not None:
        caveat += (f" Filtered by the meta-label model ({META_STRATEGY}): Sharpe "
                   f"{meta.metrics.get('sharpe', float('nan')):.2f}, total return "
                   f"{meta.metrics['total_return']:+.2%}.")
    return (f"{head} ({figures}).{caveat} All figures are out-of-sample and after costs "
            f"(spread, impact, commission, borrow).")


log = logging.getLogger("alphaloop.grading.pipeline")


class TrainingProgress:
    """Progress of a training run's steps (CV folds and the final fit, or symbols), as
    ``train``'s ``on_step_done``: a Rich bar with the step and elapsed time when ``console`` is
    a terminal, one log line per step elsewhere (the cluster's structured logs). Steps loaded
    from checkpoints are not reported, so a resumed run's bar starts part-way."""

    def __init__(self, console: Any = None) -> None:
        self.console = console
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.console is None or not getattr(self.console, "is_terminal", False):
            log.info("training: %s done (%d/%d)", step, done, total)
            return
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[step]}"), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("train", total=total, step=step)
        self._progress.update(self._task, completed=done, total=total, step=step)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_pipeline(state_dir: str | Path = ".alphaloop", config_path: str | Path | None = None,
                 console: Any = None, bars: pd.DataFrame | None = None, *,
                 runs_dir: str | Path = "runs", clock: Any = None,
                 write: bool = True) -> Any:
    """Run the whole loop and write ``<runs_dir>/<timestamp>/report.{json,html}``; returns the
    :class:`alphaloop.grading.report.Report`. ``bars``: skip hydration and use these bars
    (e.g. synthetic ones); otherwise the bundled real data is hydrated into the DuckDB store
    under ``state_dir`` through the ingest service's :class:`Hydrator`."""
    from rich.console import Console

    from alphaloop.common.clock import LiveClock
    from alphaloop.common.store import open_store
    from alphaloop.grading.promotion import promote
    from alphaloop.grading.report import Report, build_report
    from alphaloop.models.registry import Tracking
    from alphaloop.models.training import load_config, train

    console = console or Console()
    clock = clock or LiveClock()
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    say: Callable[[str], None] = lambda msg: console.print(f"[bold cyan]>>[/bold cyan] {msg}")

    mark = time.perf_counter()
    sectors = None
    data_info: dict[str, Any]
    store_path = state_dir / "alphaloop.duckdb"
    if bars is None:
        from alphaloop.ingest.jobs import run_embedded
        from alphaloop.ingest.sources import BytetheorySource

        say("hydrate: bundled real market data -> DuckDB")
        summary = run_embedded(state_dir, console)
        with open_store("duckdb", str(store_path)) as store:
            bars = store.read_bars()
        source = BytetheorySource()
        try:
            sectors = source.sectors()
        except Exception:  # noqa: BLE001 - sectors only add one feature
            sectors = None
        data_info = {"sources": [summary.source], "quality_counts": dict(summary.quality_counts),
                     "bars_good": int(summary.bars_good or len(bars)),
                     "bars_quarantined": int(summary.bars_quarantined)}
    else:
        say(f"using {len(bars):,} given bars (no hydration)")
        data_info = {"sources": ["given"], "quality_counts": {}, "bars_good": len(bars),
                     "bars_quarantined": 0}
    ts_col = "ts" if "ts" in bars.columns else "timestamp"
    data_info.update({"symbols": int(bars["symbol"].nunique()), "bars": len(bars),
                      "start": pd.Timestamp(bars[ts_col].min()).isoformat(),
                      "end": pd.Timestamp(bars[ts_col].max()).isoformat()})
    timings["hydrate"] = time.perf_counter() - mark

    mark = time.perf_counter()
    config = load_config(config_path) if config_path else load_config()
    say(f"train: features -> triple-barrier labels -> purged {config.cv.n_splits}-fold CV -> "
        f"{config.model} ({config.mode}) -> calibration -> MLflow")
    tracking = Tracking(state_dir=state_dir)
    with TrainingProgress(console) as progress:
        result = train(config, bars, tracking, sectors=sectors, run_dir=state_dir / "training",
                       on_step_done=progress)
    timings["features_labels"] = float(result.timings.get("dataset", 0.0))
    timings["cv_training"] = float(result.timings.get("fit", 0.0))
    timings["calibration"] = float(result.timings.get("calibration", 0.0))
    timings["mlflow_logging"] = (time.perf_counter() - mark) - float(result.timings["total"])
    say(f"trained {config.registry_name} v{result.model_version}: CV AUC "
        f"{result.cv_mean()['auc']:.3f}, test AUC {result.test_metrics()['auc']:.3f}")

    say("grade: backtests of every strategy on the out-of-sample window, after costs")
    outcome = grade_predictions(bars, result.test, meta_threshold=config.meta.threshold)
    timings.update({f"grading_{k}": v for k, v in outcome.timings.items()})

    mark = time.perf_counter()
    with open_store("duckdb", str(store_path)) as store:
        store.migrate()
        decision = promote(outcome, tracking, config.registry_name, result.model_version,
                           store=store, actor="alphaloop-run", clock=clock)
    timings["promotion"] = time.perf_counter() - mark
    say(f"promotion: {config.registry_name} v{result.model_version} -> {decision['alias']}")
    timings["total"] = time.perf_counter() - started

    report: Report = build_report(result, outcome, data_info, decision, timings, clock=clock)
    if write:
        report.write(Path(runs_dir))
    return report


def _open_store(settings: Any):
    from alphaloop.common.store import open_store

    return open_store(settings.store_backend, settings.effective_store_url)


def _tracking(settings: Any):
    from alphaloop.models.registry import Tracking

    return Tracking(settings.tracking_uri or None, state_dir=settings.state_dir)


def test_predictions(tracking: Any, name: str, version: Any) -> pd.DataFrame:
    """A registered version's held-out test predictions (``predictions/test.parquet`` of its
    run: symbol, t0, y, p_cal, ...), the only predictions grading reads: never in-sample ones.
    Each call downloads into its own temporary folder, so concurrent callers cannot read a
    half-written file; ``NotFoundError`` when the run has none."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from alphaloop.common.errors import NotFoundError

    with tempfile.TemporaryDirectory(prefix="alphaloop-grading-") as tmp:
        try:
            local = tracking.client.download_artifacts(version.run_id,
                                                       "predictions/test.parquet", tmp)
        except (MlflowException, OSError) as exc:
            raise NotFoundError(f"{name} v{version.version} has no out-of-sample predictions "
                                f"(predictions/test.parquet of its run): {exc}") from exc
        return pd.read_parquet(local)


def train_job(settings: Any, config_path: str | Path | None = None,
              console: Any = None) -> Any:
    """``alphaloop train`` (the CronJob): train on the stored bars, log to MLflow and register
    a new version (no alias: ``alphaloop grade`` decides). ``settings``: the models service's
    (store and tracking URI)."""
    from alphaloop.common.store import stored_bars
    from alphaloop.models.training import load_config, train

    bars = stored_bars(settings.store_backend, settings.effective_store_url)
    config = load_config(config_path) if config_path else load_config()
    with TrainingProgress(console) as progress:
        result = train(config, bars, _tracking(settings),
                       run_dir=Path(settings.state_dir) / "training", on_step_done=progress)
    if console is not None:
        console.print(f"registered {config.registry_name} v{result.model_version} (run "
                      f"{result.run_id}): CV AUC {result.cv_mean()['auc']:.3f}, test AUC "
                      f"{result.test_metrics()['auc']:.3f}")
    return result


def grade_job(settings: Any, model_name: str | None = None,
              version: str | None = None, console: Any = None) -> dict[str, Any]:
    """``alphaloop grade`` (the CronJob): grade the latest registered version's out-of-sample
    predictions (logged with its run) on the stored bars; ``champion`` if it passes the gate.
    ``settings``: the grading service's (store and tracking URI)."""
    from alphaloop.common.errors import NotFoundError
    from alphaloop.common.store import stored_bars
    from alphaloop.grading.promotion import promote
    from alphaloop.models.training import load_config

    tracking = _tracking(settings)
    name = model_name or load_config().registry_name
    versions = tracking.list_versions(name)
    if not versions:
        raise NotFoundError(f"no registered versions of {name!r}: run `alphaloop train` first")
    chosen = versions[-1] if version is None else next(
        (v for v in versions if v.version == str(version)), None)
    if chosen is None:
        raise NotFoundError(f"model {name!r} has no version {version}")
    predictions = test_predictions(tracking, name, chosen)
    bars = stored_bars(settings.store_backend, settings.effective_store_url)
    outcome = grade_predictions(bars, predictions,
                                meta_threshold=meta_threshold_of_run(tracking, chosen.run_id))
    with _open_store(settings) as store:
        store.migrate()
        decision = promote(outcome, tracking, name, chosen.version, store=store,
                           actor="alphaloop-grade")
    if console is not None:
        for n, s in outcome.strategies.items():
            console.print(f"{n:15s} score {s.score:5.1f} {s.level:13s} sharpe "
                          f"{s.metrics.get('sharpe', float('nan')):6.2f} "
                          f"gate {'passed' if s.passed_gate else '; '.join(s.gate_failures)}")
        console.print(f"{name} v{chosen.version} -> {decision['alias']}")
        console.print(verdict_sentence(outcome))
    return decision
