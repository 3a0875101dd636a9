"""gRPC surface of the grading service (Grade, Backtest, ListGrades, Promote): parse the request, call the domain,
build the reply. Grade runs every strategy on a registered model's out-of-sample predictions (stored in the
grades table), Backtest one benchmark strategy on stored bars, ListGrades reads the table, Promote
(privileged) moves `champion` only to a version whose ML strategy passed the gate."""

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
import math as _math
import threading as _threading
from pathlib import Path as _Path

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


class _GradingRpcs:
    """Grade / Backtest / ListGrades / Promote on the store and MLflow under ``state_dir``."""

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

    def _model(self, model_id: str, version: str):
        from alphaloop.common.errors import NotFoundError
        from alphaloop.models.training import load_config

        name = model_id or load_config().registry_name
        versions = self.tracking.list_versions(name)
        if not versions:
            raise NotFoundError(f"no registered versions of {name!r}")
        if not version:
            return name, versions[-1]
        for v in versions:
            if v.version == version:
                return name, v
        raise NotFoundError(f"model {name!r} has no version {version}")

    def Grade(self, request, context):
        from alphaloop.common.errors import InvalidInputError
        from alphaloop.grading.pipeline import STRATEGY_NAMES, grade_predictions
        from alphaloop.grading.promotion import grade_rows, promote

        strategy = request.strategy or "ml"
        if strategy not in STRATEGY_NAMES:
            raise InvalidInputError("strategy", f"one of {', '.join(STRATEGY_NAMES)}")
        name, version = self._model(request.model_id, request.model_version)
        local = self.tracking.client.download_artifacts(
            version.run_id, "predictions/test.parquet",
            str(_Path(self.settings.state_dir) / "grading"))
        predictions = _pd.read_parquet(local)
        if request.HasField("out_of_sample_start"):
            start = _pd.Timestamp(request.out_of_sample_start.ToDatetime(), tz="UTC")
            predictions = predictions[predictions["t0"] >= start]
        if request.HasField("out_of_sample_end"):
            end = _pd.Timestamp(request.out_of_sample_end.ToDatetime(), tz="UTC")
            predictions = predictions[predictions["t0"] <= end]
        if predictions.empty:
            raise InvalidInputError("out_of_sample_start", "no predictions in that window")
        outcome = grade_predictions(self.store.read_bars(), predictions)
        if request.promote_if_passed:
            promote(outcome, self.tracking, name, version.version, store=self.store,
                    actor="grading-rpc")
        else:
            self.store.upsert("grades", grade_rows(outcome, name, version.version,
                                                   _pd.Timestamp.now(tz="UTC")))
        rows = self.store.fetch("grades", {"strategy": strategy}, order_by="-graded_at", limit=1)
        return grading_service_pb2.GradeResponse(grade=_grade_message(rows[0]))

    def Backtest(self, request, context):
        from alphaloop.common.errors import InvalidInputError
        from alphaloop.grading import strategies as strat
        from alphaloop.grading.backtest import BacktestConfig, backtest
        from alphaloop.grading.metrics import compute_metrics

        bars = self.store.read_bars(list(request.symbols) or None,
                                    interval=request.interval or "1d")
        if bars.empty:
            raise InvalidInputError("symbols", "no stored bars for that request")
        start = _pd.Timestamp(request.start.ToDatetime(), tz="UTC") \
            if request.HasField("start") else None
        end = _pd.Timestamp(request.end.ToDatetime(), tz="UTC") if request.HasField("end") else None
        if end is not None:
            bars = bars[bars["ts"] <= end]
        makers = {"momentum": strat.momentum, "mean_reversion": strat.mean_reversion,
                  "buy_and_hold": strat.buy_and_hold}
        strategy = request.strategy or "buy_and_hold"
        if strategy not in makers:
            raise InvalidInputError("strategy", f"one of {', '.join(makers)} (the ML strategy "
                                    "is graded with Grade)")
        targets = makers[strategy](bars, start=start, end=end)
        config = BacktestConfig(half_spread_bps=request.slippage_bps,
                                commission_bps=request.commission_bps)
        result = backtest(bars, targets, config=config,
                          initial_capital=request.initial_cash or 1_000_000.0)
        metrics = compute_metrics(result.returns) if len(result.returns) >= 2 else {}
        eq = result.equity["equity"]
        reply = grading_service_pb2.BacktestResponse(
            run_id=f"{strategy}-{eq.index[0].date()}-{eq.index[-1].date()}",
            metrics={k: float(v) for k, v in metrics.items() if _math.isfinite(v)},
            trade_count=len(result.trades), final_equity=float(eq.iloc[-1]))
        for t, v in eq.items():
            point = reply.equity_curve.add(equity=float(v))
            point.timestamp.FromDatetime(t.to_pydatetime())
        return reply

    def ListGrades(self, request, context):
        where = {k: v for k, v in (("strategy", request.strategy),
                                   ("model_id", request.model_id)) if v}
        rows = self.store.fetch("grades", where or None, order_by="-graded_at",
                                limit=request.limit or 100)
        return grading_service_pb2.ListGradesResponse(grades=[_grade_message(r) for r in rows])

    def Promote(self, request, context):
        from alphaloop.common.errors import NotFoundError
        from alphaloop.models.registry import CHAMPION

        name, version = self._model(request.model_id, request.model_version)
        rows = [r for r in self.store.fetch("grades", {"model_id": name,
                                                       "model_version": version.version},
                                            order_by="-graded_at", limit=20)
                if r["strategy"] in ("ml", "ml_long_only")]
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
