"""gRPC surface of the grading service (Grade, Backtest, ListGrades, Promote): parse the request,
call the domain, build the reply. Grade runs every strategy on a registered model's out-of-sample
predictions (stored in the grades table); Backtest runs one strategy on stored bars: the ML strategy
on a model's out-of-sample predictions, or a benchmark; ListGrades reads the table; Promote
(privileged) moves `champion` only to a version whose ML strategy passed the gate.

Backtest costs: each of ``commission_bps`` and ``slippage_bps`` is negative for the graded cost
model (``alphaloop.grading.pipeline.COSTS``), 0 for none, positive for that many basis points (see
:func:`request_costs`). proto3 sends an omitted double as 0, so a request that names neither field
runs frictionless: every reply's metrics carry the costs applied (``cost_*``, ``total_costs``)."""

from __future__ import annotations

import grpc

from alphaloop.grading.config import Settings
from alphaloop.v1 import grading_service_pb2, grading_service_pb2_grpc


class GradingApi(grading_service_pb2_grpc.GradingServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        grading_service_pb2_grpc.add_GradingServiceServicer_to_server(self, server)
        return [grading_service_pb2.DESCRIPTOR.services_by_name["GradingService"].full_name]


# -- the RPCs (landed with issue 4) -----------------------------------------------------------
import dataclasses as _dataclasses
import math as _math
import threading as _threading

import pandas as _pd

from alphaloop.v1 import grades_pb2

_LEVELS = {"ELITE": grades_pb2.GRADE_LEVEL_ELITE,
           "BATTLE_READY": grades_pb2.GRADE_LEVEL_BATTLE_READY,
           "DEVELOPING": grades_pb2.GRADE_LEVEL_DEVELOPING,
           "INADEQUATE": grades_pb2.GRADE_LEVEL_INADEQUATE,
           "FAILED": grades_pb2.GRADE_LEVEL_FAILED}


def _ts(value, message) -> None:
    if value is not None:
        message.FromDatetime(_pd.Timestamp(value).to_pydatetime())


def _grade_message(row: dict) -> grades_pb2.StrategyGrade:
    metrics = dict(row.get("metrics") or {})
    failures = metrics.pop("gate_failures", []) or []
    oos = (metrics.pop("oos_start", None), metrics.pop("oos_end", None))
    msg = grades_pb2.StrategyGrade(
        strategy=row["strategy"], model_id=row["model_id"] or "",
        model_version=row["model_version"] or "", score=float(row.get("score") or 0.0),
        level=_LEVELS.get(row.get("level") or "", grades_pb2.GRADE_LEVEL_UNSPECIFIED),
        metrics={k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and v is not None and _math.isfinite(v)},
        promoted=bool(row.get("promoted")), passed_gate=bool(row.get("passed_gate")),
        gate_failures=list(failures))
    _ts(oos[0], msg.out_of_sample_start)
    _ts(oos[1], msg.out_of_sample_end)
    _ts(row.get("graded_at"), msg.graded_at)
    return msg


def request_costs(commission_bps: float, slippage_bps: float):
    """The :class:`BacktestConfig` of a Backtest request's cost fields, on top of the graded
    cost model ``COSTS`` (whose fill settings it keeps):

    * ``slippage_bps`` (price costs): negative -> COSTS' half spread and square-root impact;
      0 -> neither; positive -> a half spread of that many bps, no impact.
    * ``commission_bps`` (fees): negative -> COSTS' commission (per share, with its minimum);
      0 -> none; positive -> that many bps of the filled notional, no per-share part or minimum.
    * borrow on shorts (no field of its own): COSTS' rate when either field asks for the graded
      model (is negative), else none: explicit costs are exactly the costs charged.

    So both negative is ``COSTS`` and both 0 is ``FRICTIONLESS``."""
    from alphaloop.common.errors import InvalidInputError
    from alphaloop.grading.pipeline import COSTS

    for field, value in (("commission_bps", commission_bps), ("slippage_bps", slippage_bps)):
        if not _math.isfinite(value):
            raise InvalidInputError(field, f"must be a finite number (negative: the graded "
                                           f"cost model), got {value!r}")
    price = ({} if slippage_bps < 0
             else {"half_spread_bps": float(slippage_bps), "impact_k": 0.0})
    fees = ({} if commission_bps < 0
            else {"commission_bps": float(commission_bps), "commission_per_share": 0.0,
                  "commission_min": 0.0})
    borrow = {} if min(commission_bps, slippage_bps) < 0 else {"borrow_rate_annual": 0.0}
    return _dataclasses.replace(COSTS, **price, **fees, **borrow)


def _cost_metrics(config, result) -> dict[str, float]:
    """The costs a backtest applied, for the reply (a caller who omitted the cost fields sees
    that it ran frictionless); ``total_costs`` in currency over the whole run."""
    return {"cost_half_spread_bps": config.half_spread_bps, "cost_impact_k": config.impact_k,
            "cost_commission_bps": config.commission_bps,
            "cost_commission_per_share": config.commission_per_share,
            "cost_commission_min": config.commission_min,
            "cost_borrow_rate_annual": config.borrow_rate_annual,
            "total_costs": float(result.equity["total_cost"].sum())}


def _request_window(request) -> tuple[_pd.Timestamp | None, _pd.Timestamp | None]:
    """``[start, end)`` of a Backtest request (UTC; None where unset)."""
    from alphaloop.common.errors import InvalidInputError

    start = _pd.Timestamp(request.start.ToDatetime(), tz="UTC") \
        if request.HasField("start") else None
    end = _pd.Timestamp(request.end.ToDatetime(), tz="UTC") if request.HasField("end") else None
    if start is not None and end is not None and start >= end:
        raise InvalidInputError("start", f"must be before end (start {start.isoformat()}, end "
                                         f"{end.isoformat()})")
    return start, end


def _initial_cash(value: float) -> float:
    from alphaloop.common.errors import InvalidInputError
    from alphaloop.grading.pipeline import INITIAL_CAPITAL

    if not _math.isfinite(value) or value < 0:
        raise InvalidInputError("initial_cash", f"must be a finite number >= 0 (0: the default "
                                                f"{INITIAL_CAPITAL:,.0f}), got {value!r}")
    return float(value) or INITIAL_CAPITAL


def _window_predictions(predictions: _pd.DataFrame, bars: _pd.DataFrame,
                        start: _pd.Timestamp | None,
                        end: _pd.Timestamp | None) -> _pd.DataFrame:
    """Out-of-sample predictions of the symbols in ``bars`` decided in ``[start, end)``."""
    from alphaloop.common.errors import InvalidInputError

    predictions = predictions[predictions["symbol"].isin(bars["symbol"].unique())]
    if predictions.empty:
        raise InvalidInputError("symbols", "the model has no out-of-sample predictions for "
                                           "those symbols")
    keep = _pd.Series(True, index=predictions.index)
    if start is not None:
        keep &= predictions["t0"] >= start
    if end is not None:
        keep &= predictions["t0"] < end
    predictions = predictions[keep]
    if predictions.empty:
        raise InvalidInputError("start", "the model has no out-of-sample predictions in "
                                         "[start, end)")
    if not predictions["t0"].isin(_pd.DatetimeIndex(bars["ts"].unique())).all():
        raise InvalidInputError("interval", "the model's decisions do not fall on stored bars "
                                            "of that interval")
    return predictions.reset_index(drop=True)


def _benchmark_targets(strategy: str, bars: _pd.DataFrame, start) -> _pd.DataFrame:
    from alphaloop.grading import strategies as strat

    makers = {"momentum": strat.momentum, "mean_reversion": strat.mean_reversion,
              "buy_and_hold": strat.buy_and_hold}
    # ``bars`` already stop before the exclusive end, so the strategies' own (inclusive) end
    # stays open
    return makers[strategy](bars, start=start)


def _ml_targets(strategy: str, predictions: _pd.DataFrame, bars: _pd.DataFrame,
                meta_threshold: float = 0.5) -> _pd.DataFrame:
    """The ML strategy's weights, built as the grading pipeline builds them."""
    from alphaloop.grading import strategies as strat
    from alphaloop.grading.pipeline import META_COLUMN, META_STRATEGY, REBALANCE_EVERY

    meta = META_COLUMN if strategy == META_STRATEGY else None
    return strat.ml_signal(predictions, bars, long_only=strategy == "ml_long_only",
                           rebalance_every=REBALANCE_EVERY, meta=meta,
                           meta_threshold=meta_threshold)


def _require_meta(strategy: str, predictions: _pd.DataFrame, name: str, version) -> None:
    """``ml_meta`` needs predictions with ``p_meta`` (a version trained with meta.enabled)."""
    from alphaloop.common.errors import FailedPreconditionError
    from alphaloop.grading.pipeline import META_STRATEGY, has_meta

    if strategy == META_STRATEGY and not has_meta(predictions):
        raise FailedPreconditionError(f"{name} v{version.version} has no meta-label "
                                      "predictions (p_meta): train it with meta.enabled")


class _GradingRpcs:
    """Grade / Backtest / ListGrades / Promote on the store and MLflow under ``state_dir``.

    Backtest's ``commission_bps`` / ``slippage_bps``: negative is the graded cost model
    (``pipeline.COSTS``), 0 none, positive that many bps (:func:`request_costs`). An omitted
    field arrives as 0 (proto3), so a request without either runs frictionless; the reply's
    metrics always say which costs were applied (``cost_half_spread_bps``, ``cost_impact_k``,
    ``cost_commission_bps``, ``cost_commission_per_share``, ``cost_commission_min``,
    ``cost_borrow_rate_annual``) and what they came to (``total_costs``, currency)."""

    def _init_domain(self, store=None, tracking=None) -> None:
        self._store = store
        self._tracking = tracking
        self._lock = _threading.Lock()

    @property
    def store(self):
        from alphaloop.common.store import open_store

        with self._lock:
            if self._store is None:
                store = open_store(self.settings.store_backend, self.settings.effective_store_url)
                store.migrate()
                self._store = store
            return self._store

    @property
    def tracking(self):
        from alphaloop.models.registry import Tracking

        with self._lock:
            if self._tracking is None:
                self._tracking = Tracking(self.settings.tracking_uri or None,
                                          state_dir=self.settings.state_dir)
            return self._tracking

    def _model(self, model_id: str, version: str, alias: str = ""):
        """(name, version info) of ``model_id`` (default: the training config's registry name);
        an empty ``version`` is the ``alias`` version when that alias is set, else the latest."""
        from alphaloop.common.errors import NotFoundError
        from alphaloop.models.training import load_config

        name = model_id or load_config().registry_name
        versions = self.tracking.list_versions(name)
        if not versions:
            raise NotFoundError(f"no registered versions of {name!r}")
        if not version:
            aliased = [v for v in versions if alias and alias in v.aliases]
            return name, (aliased or versions)[-1]
        for v in versions:
            if v.version == version:
                return name, v
        raise NotFoundError(f"model {name!r} has no version {version}")

    def _has_model(self, model_id: str) -> bool:
        from alphaloop.models.training import load_config

        return bool(self.tracking.list_versions(model_id or load_config().registry_name))

    def Grade(self, request, context):
        from alphaloop.common.errors import InvalidInputError
        from alphaloop.grading.pipeline import (
            STRATEGY_NAMES,
            grade_predictions,
            meta_threshold_of_run,
            test_predictions,
        )
        from alphaloop.grading.promotion import grade_rows, promote

        strategy = request.strategy or "ml"
        if strategy not in STRATEGY_NAMES:
            raise InvalidInputError("strategy", f"one of {', '.join(STRATEGY_NAMES)}")
        name, version = self._model(request.model_id, request.model_version)
        predictions = test_predictions(self.tracking, name, version)
        _require_meta(strategy, predictions, name, version)
        if request.HasField("out_of_sample_start"):
            start = _pd.Timestamp(request.out_of_sample_start.ToDatetime(), tz="UTC")
            predictions = predictions[predictions["t0"] >= start]
        if request.HasField("out_of_sample_end"):
            end = _pd.Timestamp(request.out_of_sample_end.ToDatetime(), tz="UTC")
            predictions = predictions[predictions["t0"] <= end]
        if predictions.empty:
            raise InvalidInputError("out_of_sample_start", "no predictions in that window")
        outcome = grade_predictions(
            self.store.read_bars(), predictions,
            meta_threshold=meta_threshold_of_run(self.tracking, version.run_id))
        if request.promote_if_passed:
            promote(outcome, self.tracking, name, version.version, store=self.store,
                    actor="grading-rpc")
        else:
            self.store.upsert("grades", grade_rows(outcome, name, version.version,
                                                   _pd.Timestamp.now(tz="UTC")))
        rows = self.store.fetch("grades", {"strategy": strategy}, order_by="-graded_at", limit=1)
        return grading_service_pb2.GradeResponse(grade=_grade_message(rows[0]))

    def Backtest(self, request, context):
        """One strategy on the stored bars over ``[start, end)``, after the request's costs.

        ``ml`` / ``ml_long_only`` trade the calibrated probabilities of the model's held-out
        test predictions (never in-sample ones) with ``strategies.ml_signal``, as grading does
        (``ml_meta`` filtered by their ``p_meta``: FAILED_PRECONDITION for a version trained
        without a meta-label model); the model is ``model_id`` / ``model_version``, an empty
        version meaning the ``champion`` alias if set, else the latest. An empty strategy is
        ``ml`` when a model is registered, else ``buy_and_hold``. ``symbols`` restricts bars and predictions; unset
        ``start`` is the model's holdout start (ML) or the first bar (benchmarks), unset ``end``
        the latest bar. The equity curve starts at the first decision's close."""
        from alphaloop.common.errors import InvalidInputError
        from alphaloop.grading.backtest import backtest
        from alphaloop.grading.metrics import compute_metrics
        from alphaloop.grading.pipeline import (
            ML_STRATEGIES,
            STRATEGY_NAMES,
            meta_threshold_of_run,
            test_predictions,
        )
        from alphaloop.models.registry import CHAMPION

        start, end = _request_window(request)
        initial_cash = _initial_cash(request.initial_cash)
        config = request_costs(request.commission_bps, request.slippage_bps)
        strategy = request.strategy or ("ml" if self._has_model(request.model_id)
                                        else "buy_and_hold")
        if strategy not in STRATEGY_NAMES:
            raise InvalidInputError("strategy", f"one of {', '.join(STRATEGY_NAMES)}, got "
                                                f"{strategy!r}")
        model = None
        if strategy in ML_STRATEGIES:  # before reading bars: NOT_FOUND without a model
            model = self._model(request.model_id, request.model_version, CHAMPION)
        bars = self._window_bars(request, start, end)
        if model is None:
            targets, run_id, signals = _benchmark_targets(strategy, bars, start), strategy, {}
        else:
            name, version = model
            predictions = test_predictions(self.tracking, name, version)
            _require_meta(strategy, predictions, name, version)
            predictions = _window_predictions(predictions, bars, start, end)
            targets = _ml_targets(strategy, predictions, bars,
                                  meta_threshold_of_run(self.tracking, version.run_id))
            run_id = f"{strategy}-{name}-v{version.version}"
            signals = {"probabilities": predictions["p_cal"].to_numpy(),
                       "labels": predictions["y"].to_numpy()}
        result = backtest(bars, targets, config=config, initial_capital=initial_cash)
        metrics = compute_metrics(result.returns, **signals) if len(result.returns) >= 2 else {}
        metrics.update(_cost_metrics(config, result))
        eq = result.equity["equity"]
        decided = targets.index[targets.notna().any(axis=1)]
        if len(decided):
            eq = eq.loc[eq.index >= decided.min()]
        reply = grading_service_pb2.BacktestResponse(
            run_id=f"{run_id}-{eq.index[0].date()}-{eq.index[-1].date()}",
            metrics={k: float(v) for k, v in metrics.items() if _math.isfinite(v)},
            trade_count=len(result.trades), final_equity=float(eq.iloc[-1]))
        for t, v in eq.items():
            point = reply.equity_curve.add(equity=float(v))
            point.timestamp.FromDatetime(t.to_pydatetime())
        return reply

    def _window_bars(self, request, start, end) -> _pd.DataFrame:
        """The request's stored bars before ``end``; the history before ``start`` stays (the
        strategies' lookbacks and the impact model's statistics read it)."""
        from alphaloop.common.errors import InvalidInputError

        bars = self.store.read_bars(list(request.symbols) or None,
                                    interval=request.interval or "1d")
        if bars.empty:
            raise InvalidInputError("symbols", "no stored bars for that request")
        if end is not None:
            bars = bars[bars["ts"] < end]
        if bars.empty or (start is not None and not (bars["ts"] >= start).any()):
            raise InvalidInputError("start", "no stored bars in [start, end)")
        return bars

    def ListGrades(self, request, context):
        where = {k: v for k, v in (("strategy", request.strategy),
                                   ("model_id", request.model_id)) if v}
        rows = self.store.fetch("grades", where or None, order_by="-graded_at",
                                limit=request.limit or 100)
        return grading_service_pb2.ListGradesResponse(grades=[_grade_message(r) for r in rows])

    def Promote(self, request, context):
        from alphaloop.common.errors import NotFoundError
        from alphaloop.grading.pipeline import PROMOTABLE_STRATEGIES
        from alphaloop.models.registry import CHAMPION

        name, version = self._model(request.model_id, request.model_version)
        rows = [r for r in self.store.fetch("grades", {"model_id": name,
                                                       "model_version": version.version},
                                            order_by="-graded_at", limit=20)
                if r["strategy"] in PROMOTABLE_STRATEGIES]
        if not rows:
            raise NotFoundError(f"{name} v{version.version} has not been graded: call Grade first")
        latest = rows[0]["graded_at"]
        rows = [r for r in rows if r["graded_at"] == latest]
        passing = [r for r in rows if r["passed_gate"]]
        best = (passing or rows)[0]
        try:
            previous = self.tracking.alias_version(name, CHAMPION)
        except NotFoundError:
            previous = ""
        failures = list((best.get("metrics") or {}).get("gate_failures") or [])
        if passing:
            self.tracking.set_alias(name, version.version, CHAMPION)
            self.store.upsert("grades", [{**r, "promoted": True} for r in passing])
            best = {**best, "promoted": True}
        self.store.audit(request.operator or "grading-rpc",
                         "promote" if passing else "promote_refused",
                         f"{name}/{version.version}",
                         {"reason": request.reason, "gate_failures": failures,
                          "previous_champion": previous})
        return grading_service_pb2.PromoteResponse(
            promoted=bool(passing), alias=CHAMPION if passing else "",
            previous_version=previous or "", gate_failures=[] if passing else failures,
            grade=_grade_message(best))


class GradingApi(_GradingRpcs, GradingApi):
    def __init__(self, settings: Settings, store=None, tracking=None) -> None:
        super().__init__(settings)
        self._init_domain(store, tracking)
