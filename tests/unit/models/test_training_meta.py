"""Meta-labelling of the primary model (AFML 3.6): the primary's side from its probabilities,
meta-labels of hand-built price paths (a table worked out by hand, symmetric and asymmetric
barriers), agreement with the training set's own labels, the meta scores, the config, and
that the meta model is only ever fitted on out-of-fold primary probabilities."""

import numpy as np
import pandas as pd
import pytest

from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.dataset import LabelSettings, build_training_set
from alphaloop.models.training import TrainConfig, load_config, train
from alphaloop.models.training import meta as meta_module
from alphaloop.models.training.config import MetaSettings
from alphaloop.models.training.meta import (
    P_PRIMARY,
    meta_scores,
    primary_side,
    side_outcomes,
)

DATES = pd.bdate_range("2024-01-02", periods=12, tz="UTC")
# Symbol X: a rise through +1% (bar 2), a fall through -1% (bar 4), a quiet stretch ending up
# (bars 6-9) and one ending exactly flat (bar 8 -> 11).
X_CLOSE = [100.0, 100.5, 101.5, 101.0, 99.0, 98.5, 100.0, 100.2, 100.1, 100.3, 100.2, 100.1]
# Symbol Y: a dip of 1.5% at bar 1, then a recovery to +0.5% at bar 3.
Y_CLOSE = [100.0, 98.5, 99.5, 100.5, 100.5, 100.5, 100.5, 100.5, 100.5, 100.5, 100.5, 100.5]


def _bars() -> pd.DataFrame:
    frames = [pd.DataFrame({"symbol": s, "ts": DATES, "close": c})
              for s, c in (("X", X_CLOSE), ("Y", Y_CLOSE))]
    return pd.concat(frames, ignore_index=True)


def _events(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return pd.DataFrame({"symbol": [s for s, _ in rows], "t0": [DATES[i] for _, i in rows],
                         "trgt": 0.01})


# -- the primary's side ------------------------------------------------------------------------

@pytest.mark.parametrize(("min_edge", "expected"), [
    (0.0, [1, -1, 0, 1, -1, 0, 0]),
    (0.02, [1, -1, 0, 0, 0, 0, 0]),  # 0.52 and 0.48 sit exactly on the edge: no side
])
def test_primary_side_is_the_sign_of_the_edge_beyond_min_edge(min_edge, expected):
    p = np.array([0.7, 0.3, 0.5, 0.52, 0.48, np.nan, 0.5 + 1e-12])
    assert primary_side(p, min_edge).tolist() == expected


# -- meta-labels of hand-built paths ----------------------------------------------------------

# (symbol, event bar, side, barrier, side-adjusted label, meta label, touch bar), barriers at
# +-1% (trgt 0.01, pt_sl 1, 1), vertical 3 bars after the event. Worked by hand from the closes:
#   X bar 0 (100): +0.5%, +1.5% at bar 2 -> long takes profit, short is stopped out.
#   X bar 2 (101.5): -0.49%, -2.46% at bar 4 -> long stopped, short takes profit.
#   X bar 6 (100): +0.2, +0.1, +0.3% -> vertical at bar 9, long return > 0 wins, short loses.
#   X bar 8 (100.1): vertical at bar 11 with a return of exactly 0 -> label 0: no side won.
SYMMETRIC = [
    ("X", 0, 1, "pt", 1, 1, 2),
    ("X", 0, -1, "sl", -1, 0, 2),
    ("X", 2, 1, "sl", -1, 0, 4),
    ("X", 2, -1, "pt", 1, 1, 4),
    ("X", 6, 1, "vertical", 1, 1, 9),
    ("X", 6, -1, "vertical", -1, 0, 9),
    ("X", 8, 1, "vertical", 0, 0, 11),
    ("X", 8, -1, "vertical", 0, 0, 11),
]
# pt_sl (2, 1): the side's profit-taking barrier is +2% in its favour, the stop -1% against it.
#   Y bar 0, long: -1.5% at bar 1 crosses the -1% stop -> lost.
#   Y bar 0, short: +1.5% for the short at bar 1 is not beyond its +2% target, then +0.5%,
#   -0.5% at the vertical bar 3 -> lost too (flipping the long label would wrongly say won).
#   X bar 0, long: +0.5, +1.5, +1.0% stay inside (-1%, +2%) -> vertical, return > 0: won.
#   X bar 0, short: -1.5% at bar 2 crosses its -1% stop -> lost.
ASYMMETRIC = [
    ("Y", 0, 1, "sl", -1, 0, 1),
    ("Y", 0, -1, "vertical", -1, 0, 3),
    ("X", 0, 1, "vertical", 1, 1, 3),
    ("X", 0, -1, "sl", -1, 0, 2),
]


@pytest.mark.parametrize(("pt_sl", "table"), [((1.0, 1.0), SYMMETRIC), ((2.0, 1.0), ASYMMETRIC)])
def test_meta_labels_of_hand_built_paths_match_the_hand_table(pt_sl, table):
    labels = LabelSettings(pt_sl=pt_sl, vertical_bars=3)
    events = _events([(s, i) for s, i, *_ in table])
    out = side_outcomes(_bars(), events, np.array([row[2] for row in table]), labels)
    assert out["side"].tolist() == [row[2] for row in table]
    assert out["barrier"].tolist() == [row[3] for row in table]
    assert out["label"].tolist() == [row[4] for row in table]
    assert out["meta_y"].tolist() == [row[5] for row in table]
    assert list(out["t1"]) == [DATES[row[6]] for row in table]
    closes = {"X": X_CLOSE, "Y": Y_CLOSE}
    expected_ret = [(closes[s][t] / closes[s][i] - 1) * side for s, i, side, *_, t in table]
    np.testing.assert_allclose(out["ret"], expected_ret, rtol=0, atol=1e-15)


def test_events_without_a_side_or_an_outcome_get_no_meta_label():
    labels = LabelSettings(pt_sl=(1.0, 1.0), vertical_bars=3)
    # X bar 1, side 0: no trade. X bar 10: its vertical barrier lies past the data end and
    # the +-1% barriers are never crossed (100.2 -> 100.1): the outcome is unknown.
    out = side_outcomes(_bars(), _events([("X", 1), ("X", 10)]), np.array([0, 1]), labels)
    assert out["side"].tolist() == [0, 1]
    assert out["meta_y"].isna().all() and out["t1"].isna().all()
    assert out["barrier"].tolist() == [None, None]


def test_an_event_not_in_the_bars_is_an_error():
    events = _events([("X", 0)]).assign(symbol="Z")
    with pytest.raises(InvalidInputError, match="no bar"):
        side_outcomes(_bars(), events, np.array([1]), LabelSettings(vertical_bars=3))


# -- agreement with the training set's labels -------------------------------------------------

@pytest.fixture(scope="module")
def universe():
    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    symbols = sorted(bars["symbol"].unique())[:12]
    return bars[bars["symbol"].isin(symbols)].reset_index(drop=True), source.sectors()


@pytest.mark.parametrize("relative_to", ["none", "universe"])
def test_long_side_relabels_the_training_set_exactly_and_short_flips_it(universe, relative_to):
    bars, _ = universe
    labels = LabelSettings(pt_sl=(1.5, 1.5), vertical_bars=5, vol_span=20,
                           relative_to=relative_to)
    ts = build_training_set(bars, ["ret_5", "rsi_14"], labels)
    frame = ts.frame
    long = side_outcomes(bars, frame, np.ones(len(frame)), labels)
    assert long["label"].astype(int).tolist() == frame["label"].tolist()
    assert long["barrier"].tolist() == frame["barrier"].tolist()
    assert (pd.DatetimeIndex(long["t1"]) == pd.DatetimeIndex(frame["t1"])).all()
    np.testing.assert_allclose(long["ret"], frame["ret"], rtol=1e-12)
    assert long["meta_y"].astype(int).tolist() == frame["y"].tolist()
    # Symmetric barriers: the short trade touches the mirror barrier at the same bar.
    short = side_outcomes(bars, frame, -np.ones(len(frame)), labels)
    assert short["label"].astype(int).tolist() == (-frame["label"]).tolist()
    assert (pd.DatetimeIndex(short["t1"]) == pd.DatetimeIndex(frame["t1"])).all()
    assert short["meta_y"].astype(int).tolist() == (frame["label"] == -1).astype(int).tolist()


# -- scores ------------------------------------------------------------------------------------

def test_meta_scores_by_hand():
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.9, 0.6, 0.4, 0.7, 0.2])
    s = meta_scores(y, p, 0.5)
    # kept: 0.9, 0.6, 0.7 -> 2 of 3 won; decisions right for 0.9, 0.7 and 0.2 (3 of 5).
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["primary_precision"] == pytest.approx(3 / 5) and s["kept"] == pytest.approx(3 / 5)
    # positive-negative pairs ordered right: all but (0.4, 0.6), 5 of 6.
    assert s["auc"] == pytest.approx(5 / 6)
    assert np.isnan(meta_scores(y, np.full(5, 0.1), 0.5)["precision"])  # nothing kept
    assert np.isnan(meta_scores(np.ones(3), np.full(3, 0.7))["auc"])


# -- config ------------------------------------------------------------------------------------

def test_meta_is_off_by_default_and_leaves_the_digest_alone():
    config = load_config()
    assert config.meta == MetaSettings() and not config.meta.enabled
    assert config.meta.threshold == 0.5 and config.meta.model is None
    plain = TrainConfig()
    assert plain.digest() == TrainConfig.model_validate({"meta": {"enabled": False}}).digest()
    assert plain.digest() != TrainConfig.model_validate({"meta": {"enabled": True}}).digest()
    assert TrainConfig.model_validate({"meta": {"enabled": True}}).flat_params()[
        "meta.threshold"] == "0.5"


@pytest.mark.parametrize("bad", [{"enabled": True, "threshhold": 0.6}, {"threshold": 1.5},
                                 {"min_edge": 0.5}, {"model": "svm"}, {"params": {"svm": {}}}])
def test_invalid_meta_settings_fail_loudly(bad):
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"meta": bad})


# -- the meta model sees out-of-fold primary probabilities only -------------------------------

TINY = {"lightgbm": {"n_estimators": 25, "num_leaves": 7, "min_child_samples": 20}}


def _meta_config(**meta) -> TrainConfig:
    return TrainConfig.model_validate({
        "name": "meta-test", "threads": 1,
        "features": ["ret_5", "ret_21", "rsi_14", "rvol_21", "cs_rank_ret_5", "dist_sma_20"],
        "params": TINY, "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5, "vol_span": 20},
        "cv": {"n_splits": 4, "embargo_pct": 0.01}, "test_fraction": 0.25,
        "meta": {"enabled": True, "params": TINY, **meta}})


def test_the_meta_model_is_fitted_on_oof_primary_probabilities_only(universe, tmp_path,
                                                                     monkeypatch):
    bars, sectors = universe
    fitted: list[pd.DataFrame] = []
    real = meta_module.make_classifier

    def recording(*args, **kwargs):
        clf = real(*args, **kwargs)
        fit = clf.fit

        def fit_and_record(X, y, w=None):
            fitted.append(X.copy())
            return fit(X, y, w)
        clf.fit = fit_and_record
        return clf

    monkeypatch.setattr(meta_module, "make_classifier", recording)
    result = train(_meta_config(), bars, sectors=sectors, run_dir=tmp_path)
    oof = result.oof
    assert len(fitted) == 4 + 1  # one per meta fold, then the final meta model
    for X in fitted:
        assert list(X.columns) == [*result.feature_names, P_PRIMARY]
        # X's index is the row of the primary's OOF frame: its p is that row's OOF p_cal
        np.testing.assert_array_equal(X[P_PRIMARY].to_numpy(),
                                      oof["p_cal"].to_numpy()[X.index.to_numpy()])
        assert (oof["side"].to_numpy()[X.index.to_numpy()] != 0).all()
    final = fitted[-1]
    assert sorted(final.index) == oof.index[oof["meta_y"].notna()].tolist()
    # The final primary model's own (in-sample) calibrated p on these events is not what the
    # meta model saw.
    in_sample = result.model.predict(final[result.feature_names])
    assert np.max(np.abs(in_sample - final[P_PRIMARY].to_numpy())) > 1e-3
    # OOF p_meta of every meta event comes from a fold model that did not train on it
    assert (oof.loc[oof["meta_y"].notna(), "meta_fold"] >= 0).all()
    assert oof.loc[oof["meta_y"].notna(), "p_meta"].between(0, 1).all()


def test_the_test_sides_come_from_the_test_p_cal_and_min_edge_drops_small_edges(universe,
                                                                                 tmp_path):
    bars, sectors = universe
    result = train(_meta_config(min_edge=0.01), bars, sectors=sectors, run_dir=tmp_path)
    for frame in (result.oof, result.test):
        np.testing.assert_array_equal(frame["side"], primary_side(frame["p_cal"], 0.01))
        no_side = frame["side"] == 0
        assert frame.loc[no_side, "p_meta"].isna().all()
        assert frame.loc[no_side, "meta_y"].isna().all()
        assert frame.loc[~no_side, "p_meta"].between(0, 1).all()
    metrics = result.metrics()
    for key in ("meta_cv_auc_mean", "meta_cv_accuracy_mean", "meta_cv_precision_mean",
                "meta_test_auc", "meta_test_precision", "meta_oof_primary_precision"):
        assert key in metrics
    assert metrics["meta_n_train_events"] == float(result.oof["meta_y"].notna().sum())
