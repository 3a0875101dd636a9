"""The meta-labelled ML strategy end to end on a dozen bundled symbols: a model trained with
``meta.enabled`` carries ``p_meta`` on its test predictions (also in the MLflow run's
``predictions/test.parquet``), grading adds ``ml_meta`` whose targets are ``ml_signal`` filtered
by ``p_meta`` computed directly here, the Grade / Backtest RPCs serve it, the run report shows
it, and a model trained without meta is graded on exactly the five strategies it always was.
Probabilities are left uncalibrated (``method: none``) so that they fall on both sides of 0.5
and the primary takes both sides."""

import io
import json
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from alphaloop.cli.app import service_module
from alphaloop.common.rpc import make_channel
from alphaloop.common.store import open_store
from alphaloop.grading import pipeline
from alphaloop.grading import strategies as strat
from alphaloop.grading.backtest import backtest
from alphaloop.grading.pipeline import COSTS, INITIAL_CAPITAL, grade_predictions
from alphaloop.v1 import grading_service_pb2 as pb
from alphaloop.v1 import grading_service_pb2_grpc as pb_grpc

OLD_FIVE = ["ml", "ml_long_only", "momentum", "mean_reversion", "buy_and_hold"]
THRESHOLD = 0.55  # not the default, so a grader that ignores the run's setting is caught
TINY = {"lightgbm": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 20}}


def _config_dict(meta: bool) -> dict:
    return {
        "name": "meta-strategy-test", "threads": 1,
        "features": ["ret_5", "ret_21", "rsi_14", "rvol_21", "cs_rank_ret_5", "dist_sma_20"],
        "params": TINY, "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5},
        "cv": {"n_splits": 3}, "test_fraction": 0.25, "calibration": {"method": "none"},
        "meta": {"enabled": meta, "threshold": THRESHOLD, "params": TINY},
    }


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """(state folder, stored bars as the server reads them, sectors, Tracking, meta result,
    plain result); both results are registered versions of the same model."""
    from alphaloop.ingest.quality import apply_gate
    from alphaloop.ingest.sources import BytetheorySource
    from alphaloop.models.registry import Tracking
    from alphaloop.models.training import TrainConfig, train

    folder = tmp_path_factory.mktemp("meta-state")
    source = BytetheorySource()
    good = apply_gate(source.load()).good
    good = good[good["symbol"].isin(sorted(good["symbol"].unique())[:12])]
    with open_store("duckdb", str(folder / "alphaloop.duckdb")) as store:
        store.migrate()
        store.write_bars(good.reset_index(drop=True))
        bars = store.read_bars()
    tracking = Tracking(state_dir=folder)
    run_dir = folder / "training"
    with_meta = train(TrainConfig.model_validate(_config_dict(True)), bars, tracking,
                      sectors=source.sectors(), run_dir=run_dir)
    plain = train(TrainConfig.model_validate(_config_dict(False)), bars, tracking,
                  sectors=source.sectors(), run_dir=run_dir)
    return folder, bars, source.sectors(), tracking, with_meta, plain


@pytest.fixture(scope="module")
def graded(state):
    """Grading of the meta model's test predictions, with the targets grading built."""
    _, bars, _, _, result, _ = state
    built = {}
    real = pipeline.strategy_targets

    def recording(*args, **kwargs):
        targets, descriptions = real(*args, **kwargs)
        built.update(targets)
        return targets, descriptions

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "strategy_targets", recording)
        outcome = grade_predictions(bars, result.test, meta_threshold=THRESHOLD)
    return outcome, built


def _window_bars(bars, predictions):
    return bars[bars["ts"] <= predictions["t0"].max()]


def test_p_meta_is_a_probability_on_every_test_event_with_a_side(state):
    result = state[4]
    test = result.test
    traded = test["side"] != 0
    assert traded.sum() > 50 and set(test.loc[traded, "side"]) == {-1, 1}
    assert test.loc[traded, "p_meta"].between(0, 1).all()
    assert test.loc[~traded, "p_meta"].isna().all()
    assert test["p_meta"].nunique() > 10  # a model, not a constant
    assert "p_meta" not in state[5].test.columns and state[5].meta is None


def test_the_logged_run_carries_p_meta_and_the_meta_metrics(state, tmp_path):
    _, _, _, tracking, result, _ = state
    local = tracking.client.download_artifacts(result.run_id, "predictions/test.parquet",
                                               str(tmp_path))
    logged = pd.read_parquet(local)
    np.testing.assert_array_equal(logged["p_meta"].to_numpy(), result.test["p_meta"].to_numpy())
    run = tracking.client.get_run(result.run_id)
    for key in ("meta_cv_auc_mean", "meta_cv_accuracy_mean", "meta_cv_precision_mean",
                "meta_test_auc", "meta_test_precision"):
        assert run.data.metrics[key] == pytest.approx(result.metrics()[key], nan_ok=True)
    assert run.data.params["meta.enabled"] == "True"
    assert pipeline.meta_threshold_of_run(tracking, result.run_id) == THRESHOLD
    folds = tracking.client.download_artifacts(result.run_id, "meta_cv_folds.csv",
                                               str(tmp_path))
    assert len(pd.read_csv(folds)) == 3


def test_grading_adds_ml_meta_whose_targets_are_the_meta_filtered_ml_signal(state, graded):
    _, bars, _, _, result, _ = state
    outcome, built = graded
    assert list(outcome.strategies) == ["ml", "ml_long_only", "ml_meta", "momentum",
                                        "mean_reversion", "buy_and_hold"]
    assert outcome.n_trials == 6 and outcome.strategies["ml_meta"].ml
    window = _window_bars(bars, result.test)
    direct = strat.ml_signal(result.test, window, meta="p_meta", meta_threshold=THRESHOLD)
    pd.testing.assert_frame_equal(built["ml_meta"], direct)
    # the filter changed something, and what was graded is the backtest of those targets
    assert not built["ml_meta"].fillna(9).equals(built["ml"].fillna(9))
    run = backtest(window, direct, config=COSTS, initial_capital=INITIAL_CAPITAL)
    pd.testing.assert_series_equal(outcome.strategies["ml_meta"].returns, run.returns)
    assert outcome.strategies["ml_meta"].n_trades == len(run.trades) > 0


def test_without_meta_the_graded_strategies_are_the_old_five(state):
    _, bars, _, _, _, plain = state
    outcome = grade_predictions(bars, plain.test)
    assert list(outcome.strategies) == OLD_FIVE and outcome.n_trials == 5
    # a meta column of NaN only is no meta model either
    outcome = grade_predictions(bars, plain.test.assign(p_meta=np.nan))
    assert list(outcome.strategies) == OLD_FIVE


@pytest.fixture(scope="module")
def server(state):
    mod = service_module("grading")
    srv = mod.build(mod.load(state_dir=state[0], store_url=""))
    srv.start(grpc_port=0, metrics_port=0)
    yield srv
    srv.stop(grace=0)


def test_backtest_and_grade_rpcs_run_ml_meta_of_a_meta_version_only(state, server):
    _, bars, _, _, result, plain = state
    with make_channel(f"127.0.0.1:{server.port}") as ch:
        stub = pb_grpc.GradingServiceStub(ch)
        reply = stub.Backtest(pb.BacktestRequest(
            strategy="ml_meta", model_version=result.model_version, initial_cash=250_000,
            commission_bps=-1, slippage_bps=-1), timeout=120)
        direct = backtest(bars, strat.ml_signal(result.test, bars, meta="p_meta",
                                                meta_threshold=THRESHOLD),
                          config=COSTS, initial_capital=250_000)
        assert reply.trade_count == len(direct.trades) > 0
        assert reply.final_equity == pytest.approx(direct.equity["equity"].iloc[-1], abs=1e-9)
        grade = stub.Grade(pb.GradeRequest(strategy="ml_meta",
                                           model_version=result.model_version), timeout=120)
        assert grade.grade.strategy == "ml_meta"
        assert grade.grade.model_version == result.model_version
        for call, request in ((stub.Backtest, pb.BacktestRequest(
                strategy="ml_meta", model_version=plain.model_version)),
                              (stub.Grade, pb.GradeRequest(
                strategy="ml_meta", model_version=plain.model_version))):
            with pytest.raises(grpc.RpcError) as err:
                call(request, timeout=120)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "meta" in err.value.details()


def test_the_run_report_grades_and_shows_the_meta_model(state, tmp_path):
    from alphaloop.grading.pipeline import run_pipeline

    _, bars, _, _, _, _ = state
    config = tmp_path / "meta.yaml"
    config.write_text(yaml.safe_dump(_config_dict(True)))
    report = run_pipeline(tmp_path / "state", config, Console(file=io.StringIO()), bars,
                          runs_dir=tmp_path / "runs")
    data = json.loads((Path(report.folder) / "report.json").read_text())
    assert "ml_meta" in data["strategies"] and data["n_trials"] == 6
    (model,) = data["models"].values()
    assert {"cv", "oof", "test", "threshold"} <= set(model["meta"])
    assert model["meta"]["threshold"] == THRESHOLD
    assert "ml_meta" in data["verdict"]
    html = (Path(report.folder) / "report.html").read_text()
    assert "Meta-label model" in html and "ml_meta" in html
