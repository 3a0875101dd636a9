"""The Backtest RPC through a real gRPC server: the ML strategy on a registered model's
out-of-sample predictions, the request's cost fields, and its errors. Thirty bundled symbols are
stored in a DuckDB store under a temporary state folder and a small model is trained into its
MLflow store (uncalibrated, so its probabilities differ between names and the strategy trades).
Every expected figure comes from calling the backtester directly on targets built from the
in-memory training result, not from the RPC's own code path."""

import math
from datetime import UTC, datetime

import grpc
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from alphaloop.cli.app import service_module
from alphaloop.common.rpc import make_channel
from alphaloop.common.store import open_store
from alphaloop.grading import strategies as strat
from alphaloop.grading.backtest import BacktestConfig, backtest
from alphaloop.grading.pipeline import COSTS, FRICTIONLESS
from alphaloop.v1 import grading_service_pb2 as pb
from alphaloop.v1 import grading_service_pb2_grpc as pb_grpc

FEATURES = ["ret_5", "ret_21", "rsi_14", "rvol_21", "cs_rank_ret_5", "dist_sma_20"]
N_SYMBOLS = 30
CASH = 250_000.0


def _stored_bars(state):
    """The first ``N_SYMBOLS`` bundled symbols' good bars, written to the state folder's store
    and read back as the server will read them."""
    from alphaloop.ingest.quality import apply_gate
    from alphaloop.ingest.sources import BytetheorySource

    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    bars = bars[bars["symbol"].isin(sorted(bars["symbol"].unique())[:N_SYMBOLS])]
    with open_store("duckdb", str(state / "alphaloop.duckdb")) as store:
        store.migrate()
        store.write_bars(bars.reset_index(drop=True))
        return store.read_bars(), source.sectors()


def _serve(state):
    mod = service_module("grading")
    srv = mod.build(mod.load(state_dir=state, store_url=""))
    srv.start(grpc_port=0, metrics_port=0)
    return srv


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(server, stored bars, TrainResult, Tracking) with one registered version."""
    from alphaloop.models.registry import Tracking
    from alphaloop.models.training import TrainConfig, train

    state = tmp_path_factory.mktemp("backtest-state")
    bars, sectors = _stored_bars(state)
    config = TrainConfig.model_validate({
        "name": "backtest-rpc-test", "threads": 1, "features": FEATURES,
        "params": {"lightgbm": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 20}},
        "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5}, "cv": {"n_splits": 3},
        "test_fraction": 0.25, "calibration": {"method": "none"},
    })
    tracking = Tracking(state_dir=state)
    result = train(config, bars, tracking, sectors=sectors)
    srv = _serve(state)
    yield srv, bars, result, tracking
    srv.stop(grace=0)


@pytest.fixture(scope="module")
def unregistered(tmp_path_factory):
    """A server whose store has bars but whose MLflow registry has no model."""
    state = tmp_path_factory.mktemp("backtest-no-model")
    _stored_bars(state)
    srv = _serve(state)
    yield srv
    srv.stop(grace=0)


def _backtest(srv, **fields) -> pb.BacktestResponse:
    request = pb.BacktestRequest(**{k: v for k, v in fields.items() if k not in ("start", "end")})
    for name in ("start", "end"):
        if name in fields:
            getattr(request, name).FromDatetime(fields[name])
    with make_channel(f"127.0.0.1:{srv.port}") as ch:
        return pb_grpc.GradingServiceStub(ch).Backtest(request, timeout=120)


def _error(srv, **fields) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        _backtest(srv, **fields)
    return err.value


def _direct(bars, predictions, config, long_only=False):
    targets = strat.ml_signal(predictions, bars, long_only=long_only)
    return backtest(bars, targets, config=config, initial_capital=CASH)


def _utc(ts) -> datetime:
    return pd.Timestamp(ts).tz_convert("UTC").to_pydatetime().replace(tzinfo=UTC)


# -- (a) the ML strategy ----------------------------------------------------------------------

def test_ml_backtest_equals_the_backtester_on_the_test_predictions(trained):
    srv, bars, result, _ = trained
    reply = _backtest(srv, strategy="ml", model_version=result.model_version,
                      initial_cash=CASH, commission_bps=-1, slippage_bps=-1)
    direct = _direct(bars, result.test, COSTS)
    assert len(direct.trades) > 0  # the comparison is not between two idle books
    assert reply.final_equity == pytest.approx(direct.equity["equity"].iloc[-1], rel=0,
                                               abs=1e-9)
    # the curve starts at the first out-of-sample decision and follows the direct run
    first = result.test["t0"].min()
    expected = direct.equity["equity"].loc[first:]
    assert [p.timestamp.ToDatetime(tzinfo=UTC) for p in reply.equity_curve] == \
        [_utc(t) for t in expected.index]
    np.testing.assert_allclose([p.equity for p in reply.equity_curve], expected.to_numpy(),
                               rtol=0, atol=1e-9)
    # signal quality of the window's predictions, from a reference implementation
    y, p = result.test["y"].to_numpy(), result.test["p_cal"].to_numpy()
    assert reply.metrics["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert reply.metrics["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)), abs=1e-12)
    assert reply.metrics["n_predictions"] == len(result.test)
    assert reply.metrics["total_return"] == pytest.approx(
        (1 + direct.returns).prod() - 1, abs=1e-12)


def test_ml_long_only_restricted_to_symbols_and_window(trained):
    srv, bars, result, _ = trained
    test = result.test
    symbols = sorted(test["symbol"].unique())[:12]
    dates = sorted(test["t0"].unique())
    start, end = pd.Timestamp(dates[7]), pd.Timestamp(dates[-10])
    reply = _backtest(srv, strategy="ml_long_only", model_version=result.model_version,
                      symbols=symbols, start=_utc(start), end=_utc(end), initial_cash=CASH,
                      slippage_bps=3.0, commission_bps=2.0)
    window = test[test["symbol"].isin(symbols) & (test["t0"] >= start) & (test["t0"] < end)]
    window_bars = bars[bars["symbol"].isin(symbols) & (bars["ts"] < end)]
    direct = _direct(window_bars, window, BacktestConfig(half_spread_bps=3.0,
                                                         commission_bps=2.0), long_only=True)
    assert len(direct.trades) > 0
    assert reply.final_equity == pytest.approx(direct.equity["equity"].iloc[-1], rel=0,
                                               abs=1e-9)
    curve = [p.timestamp.ToDatetime(tzinfo=UTC) for p in reply.equity_curve]
    assert curve[0] == _utc(window["t0"].min()) >= _utc(start) and curve[-1] < _utc(end)
    assert reply.metrics["n_predictions"] == len(window)
    assert reply.metrics["auc"] == pytest.approx(
        roc_auc_score(window["y"], window["p_cal"]), abs=1e-12)


def test_ml_never_reads_in_sample_predictions(trained):
    """A window reaching back into the training years still starts at the holdout."""
    srv, bars, result, _ = trained
    reply = _backtest(srv, strategy="ml", model_version=result.model_version,
                      start=_utc(bars["ts"].min()))
    holdout_start = _utc(result.test["t0"].min())
    assert result.oof["t0"].min() < result.test["t0"].min()  # there were in-sample ones
    assert reply.equity_curve[0].timestamp.ToDatetime(tzinfo=UTC) == holdout_start
    assert reply.metrics["n_predictions"] == len(result.test)


def test_empty_strategy_is_ml_and_empty_version_prefers_the_champion(trained):
    srv, _, result, tracking = trained
    from alphaloop.models.registry import CHAMPION

    name = result.config.registry_name
    run = tracking.client.get_model_version(name, result.model_version).run_id
    newer = str(tracking.client.create_model_version(name, f"runs:/{run}/model",
                                                     run_id=run).version)
    assert int(newer) > int(result.model_version)
    assert _backtest(srv).run_id.startswith(f"ml-{name}-v{newer}-")  # latest
    tracking.set_alias(name, result.model_version, CHAMPION)
    try:
        assert _backtest(srv).run_id.startswith(f"ml-{name}-v{result.model_version}-")
    finally:
        tracking.delete_alias(name, CHAMPION)


# -- (b) costs ------------------------------------------------------------------------------

def test_negative_costs_are_the_graded_cost_model(trained):
    srv, bars, result, _ = trained
    reply = _backtest(srv, strategy="ml", model_version=result.model_version,
                      initial_cash=CASH, commission_bps=-1, slippage_bps=-0.5)
    costed = _direct(bars, result.test, COSTS)
    assert reply.final_equity == pytest.approx(costed.equity["equity"].iloc[-1], rel=0,
                                               abs=1e-9)
    m = reply.metrics
    # COSTS as the pipeline documents it: 5 bps half spread, k = 0.1, $0.005 a share with a
    # $1 minimum, 1% a year borrow
    assert (m["cost_half_spread_bps"], m["cost_impact_k"], m["cost_commission_per_share"],
            m["cost_commission_min"], m["cost_commission_bps"],
            m["cost_borrow_rate_annual"]) == (5.0, 0.1, 0.005, 1.0, 0.0, 0.01)
    assert m["total_costs"] == pytest.approx(costed.equity["total_cost"].sum(), abs=1e-9)
    assert m["total_costs"] > 0


def test_zero_or_omitted_costs_are_frictionless_and_say_so(trained):
    srv, bars, result, _ = trained
    free = _direct(bars, result.test, FRICTIONLESS)
    costed = _direct(bars, result.test, COSTS)
    assert free.equity["equity"].iloc[-1] != pytest.approx(costed.equity["equity"].iloc[-1])
    for fields in ({"commission_bps": 0.0, "slippage_bps": 0.0}, {}):
        reply = _backtest(srv, strategy="ml", model_version=result.model_version,
                          initial_cash=CASH, **fields)
        assert reply.final_equity == pytest.approx(free.equity["equity"].iloc[-1], rel=0,
                                                   abs=1e-9)
        assert {k: v for k, v in reply.metrics.items() if k.startswith("cost")} == {
            "cost_half_spread_bps": 0.0, "cost_impact_k": 0.0, "cost_commission_bps": 0.0,
            "cost_commission_per_share": 0.0, "cost_commission_min": 0.0,
            "cost_borrow_rate_annual": 0.0}
        assert reply.metrics["total_costs"] == 0.0


def test_benchmark_uses_the_same_costs_and_half_open_window(trained):
    srv, bars, _, _ = trained
    dates = sorted(bars["ts"].unique())
    start, end = pd.Timestamp(dates[100]), pd.Timestamp(dates[200])
    reply = _backtest(srv, strategy="momentum", start=_utc(start), end=_utc(end),
                      initial_cash=CASH, commission_bps=-1, slippage_bps=-1)
    window_bars = bars[bars["ts"] < end]
    targets = strat.momentum(window_bars, start=start)
    direct = backtest(window_bars, targets, config=COSTS, initial_capital=CASH)
    assert len(direct.trades) > 0
    assert reply.final_equity == pytest.approx(direct.equity["equity"].iloc[-1], rel=0,
                                               abs=1e-9)
    curve = [p.timestamp.ToDatetime(tzinfo=UTC) for p in reply.equity_curve]
    assert curve[0] == _utc(start) and curve[-1] == _utc(dates[199])
    assert reply.metrics["cost_half_spread_bps"] == 5.0


# -- (c) and (d) errors -----------------------------------------------------------------------

def test_ml_without_a_registered_model_is_not_found(unregistered):
    err = _error(unregistered, strategy="ml")
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert _error(unregistered, strategy="ml_long_only").code() == grpc.StatusCode.NOT_FOUND
    # with no model, the default strategy is the benchmark
    assert _backtest(unregistered).run_id.startswith("buy_and_hold-")


@pytest.mark.parametrize(("fields", "field"), [
    ({"strategy": "nope"}, "strategy"),
    ({"start": datetime(2010, 3, 1, tzinfo=UTC), "end": datetime(2010, 3, 1, tzinfo=UTC)},
     "start"),
    ({"start": datetime(2010, 3, 2, tzinfo=UTC), "end": datetime(2010, 3, 1, tzinfo=UTC)},
     "start"),
    ({"start": datetime(2030, 1, 1, tzinfo=UTC)}, "start"),  # after every stored bar
    ({"initial_cash": -1.0}, "initial_cash"),
    ({"slippage_bps": math.nan}, "slippage_bps"),
    ({"commission_bps": math.inf}, "commission_bps"),
])
def test_bad_request_is_invalid_argument_naming_the_field(unregistered, fields, field):
    err = _error(unregistered, **fields)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details().startswith(f"{field}: ")

