"""The point-in-time training set on real bundled bars: features at an event equal features
computed from the bars up to that event only; labels are known by the data end; the time split
purges labels that reach into the test period; pooled rows are sorted by time."""

import numpy as np
import pandas as pd
import pytest

from alphaloop.features import compute
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.dataset import (
    META_COLUMNS,
    SECTOR_FEATURE,
    DatasetSettings,
    LabelSettings,
    build_training_set,
)

FEATURES = ["ret_5", "rsi_14", "rvol_21", "cs_rank_ret_5", "dist_sma_20"]
LABELS = LabelSettings(pt_sl=(1.5, 1.5), vertical_bars=5, vol_span=20)


@pytest.fixture(scope="module")
def universe():
    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    symbols = sorted(bars["symbol"].unique())[:12]
    return bars[bars["symbol"].isin(symbols)].reset_index(drop=True), source.sectors()


@pytest.fixture(scope="module")
def dataset(universe):
    bars, sectors = universe
    return build_training_set(bars, FEATURES, LABELS, DatasetSettings(), sectors)


def test_rows_are_pooled_and_sorted_by_event_time_then_symbol(dataset):
    frame = dataset.frame
    assert list(frame.columns) == [*META_COLUMNS, *FEATURES, SECTOR_FEATURE]
    assert frame["symbol"].nunique() == 12
    keys = list(zip(frame["t0"], frame["symbol"]))
    assert keys == sorted(keys)
    assert not frame.duplicated(["symbol", "t0"]).any()
    assert set(frame["y"].unique()) <= {0, 1}
    assert np.array_equal(frame["y"].to_numpy(), (frame["label"] > 0).astype(int).to_numpy())


def test_every_label_is_known_within_its_symbols_data_and_nothing_is_filled(universe, dataset):
    bars, _ = universe
    frame = dataset.frame
    last = bars.groupby("symbol")["ts"].max()
    assert (frame["t1"] > frame["t0"]).all()
    assert (frame["t1"] <= frame["symbol"].map(last)).all()
    # drop_truncated: the vertical barrier (5 bars ahead) is inside the data for every event.
    for symbol, rows in frame.groupby("symbol"):
        ts = bars.loc[bars["symbol"] == symbol, "ts"].sort_values().reset_index(drop=True)
        pos = ts.searchsorted(rows["t0"])
        assert (pos + LABELS.vertical_bars <= len(ts) - 1).all()
    assert frame[["t1", "label", "ret", "y", "weight"]].notna().all().all()


def test_events_start_after_the_feature_warm_up(universe, dataset):
    bars, _ = universe
    warmup = 21  # the largest warm-up of FEATURES (rvol_21, cs_rank_ret_5 -> 5, rsi_14 -> 14)
    first = bars.groupby("symbol")["ts"].apply(lambda s: s.sort_values().iloc[warmup])
    assert (dataset.frame["t0"] >= dataset.frame["symbol"].map(first)).all()


def test_features_at_an_event_use_only_bars_up_to_that_event(universe, dataset):
    bars, _ = universe
    frame = dataset.frame
    for i in (0, len(frame) // 3, len(frame) // 2):
        row = frame.iloc[i]
        past = bars[bars["ts"] <= row["t0"]].reset_index(drop=True)
        values = compute(past, FEATURES)
        at = (past["symbol"] == row["symbol"]) & (past["ts"] == row["t0"])
        expected = values[at.to_numpy()].iloc[0]
        np.testing.assert_allclose(row[FEATURES].to_numpy(float), expected.to_numpy(float),
                                   rtol=1e-12, equal_nan=True)


def test_sector_code_is_the_sectors_position_in_the_sorted_sector_names(universe, dataset):
    _, sectors = universe
    names = sorted(set(sectors["sector"]) - {""})
    sector_of = dict(zip(sectors["symbol"], sectors["sector"]))
    expected = dataset.frame["symbol"].map(
        lambda s: float(names.index(sector_of[s])) if s in sector_of else np.nan)
    assert expected.isna().any() and expected.notna().any()  # ACS has no sector in the package
    np.testing.assert_array_equal(dataset.frame[SECTOR_FEATURE].to_numpy(), expected.to_numpy())


def test_weights_are_uniqueness_scaled_to_mean_one(dataset):
    assert dataset.frame["weight"].mean() == pytest.approx(1.0)
    assert (dataset.frame["weight"] > 0).all()


def test_time_split_holds_out_the_last_dates_and_purges_straddling_labels(dataset):
    train, test, info = dataset.split(0.25)
    dates = np.sort(dataset.frame["t0"].unique())
    assert info.test_start == pd.Timestamp(dates[-int(np.ceil(len(dates) * 0.25))])
    assert (test.frame["t0"] >= info.test_start).all()
    assert (train.frame["t1"] < info.test_start).all()
    assert info.train_end == train.frame["t1"].max()
    straddling = (dataset.frame["t0"] < info.test_start) & (dataset.frame["t1"] >= info.test_start)
    assert info.n_purged == int(straddling.sum()) > 0
    assert info.n_train + info.n_test + info.n_purged == len(dataset)


def test_cusum_events_are_a_subset_of_all_events(universe):
    bars, _ = universe
    every = build_training_set(bars, FEATURES, LABELS, DatasetSettings())
    cusum = build_training_set(bars, FEATURES, LABELS, DatasetSettings(events="cusum"))
    assert 0 < len(cusum) < len(every)
    every_keys = set(zip(every.frame["symbol"], every.frame["t0"]))
    assert set(zip(cusum.frame["symbol"], cusum.frame["t0"])) <= every_keys
    assert SECTOR_FEATURE not in every.feature_names  # no sectors given


def test_per_symbol_view_partitions_the_rows(dataset):
    parts = dict(dataset.by_symbol())
    assert sum(len(p) for p in parts.values()) == len(dataset)
    assert all((p.frame["symbol"] == s).all() for s, p in parts.items())


def test_relative_labels_follow_the_path_against_the_equal_weighted_universe(universe):
    from alphaloop.models.labels import daily_volatility, triple_barrier

    bars, _ = universe
    relative = LabelSettings(pt_sl=(1.5, 1.5), vertical_bars=5, vol_span=20,
                             relative_to="universe")
    data = build_training_set(bars, FEATURES, relative, DatasetSettings(weights="none"))
    # The index by hand: mean one-bar return of the symbols on each date, compounded.
    ordered = bars.sort_values(["symbol", "ts"])
    ret = ordered.groupby("symbol")["close"].pct_change()
    level = (1 + ret.groupby(ordered["ts"]).mean().sort_index().fillna(0.0)).cumprod()
    symbol = data.frame["symbol"].iloc[0]
    own = ordered[ordered["symbol"] == symbol].set_index("ts")["close"]
    path = own / level.reindex(own.index)
    expected = triple_barrier(path, None, (1.5, 1.5), 5, daily_volatility(path, 20))
    rows = data.frame[data.frame["symbol"] == symbol].set_index("t0")
    expected = expected.loc[rows.index]
    np.testing.assert_array_equal(rows["label"].to_numpy(), expected["label"].to_numpy())
    np.testing.assert_allclose(rows["ret"].to_numpy(), expected["ret"].to_numpy(), rtol=1e-12)
    assert (rows["t1"] == expected["t1"]).all()


def test_chunked_features_equal_the_whole_universe_at_once(universe):
    """chunk_symbols computes per-symbol features a few symbols at a time and the panel
    features (cross-sectional ranks, regime, herding) on every symbol: identical values."""
    bars, sectors = universe
    whole = build_training_set(bars, "all", LABELS, DatasetSettings(), sectors)
    chunked = build_training_set(bars, "all", LABELS, DatasetSettings(chunk_symbols=5), sectors)
    assert any(n.startswith("cs_rank_") for n in whole.feature_names)
    assert any(n.startswith("regime_") for n in whole.feature_names)
    pd.testing.assert_frame_equal(chunked.frame, whole.frame, check_exact=True)
    single = build_training_set(bars, FEATURES, LABELS,
                                DatasetSettings(chunk_symbols=5, feature_dtype="float32"))
    wide = build_training_set(bars, FEATURES, LABELS, DatasetSettings())
    assert (single.frame[FEATURES].dtypes == np.float32).all()
    expected = wide.frame[FEATURES].to_numpy().astype(np.float32)
    assert np.array_equal(single.frame[FEATURES].to_numpy(), expected, equal_nan=True)


@pytest.mark.parametrize("kind", ["uniqueness", "return"])
def test_weights_equal_the_per_symbol_reference(universe, kind):
    """The one-pass weights equal labels.sample_weights_by_symbol (AFML 4.2 / 4.10 per symbol,
    pandas), divided by their mean."""
    from alphaloop.models.labels import sample_weights_by_symbol

    bars, _ = universe
    ts = build_training_set(bars, FEATURES, LABELS, DatasetSettings(weights=kind))
    frame = ts.frame
    labels = frame.set_index(["symbol", "t0"])[["t1"]].rename_axis(["symbol", "ts"])
    labels = labels.sort_index()
    ref = sample_weights_by_symbol(bars[["symbol", "ts", "close"]], labels)
    column = "uniqueness" if kind == "uniqueness" else "return_weight"
    ref = ref[column] / ref[column].mean()
    got = frame.set_index(["symbol", "t0"])["weight"].rename_axis(["symbol", "ts"])
    np.testing.assert_allclose(got.sort_index().to_numpy(), ref.sort_index().to_numpy(),
                               rtol=1e-9, atol=1e-12)  # sums that cancel to ~0


def test_cusum_events_follow_afml_snippet_2_4(universe):
    """Events equal a plain loop of the symmetric CUSUM filter (AFML snippet 2.4) on each
    symbol's log returns, threshold 1.5 x that symbol's daily volatility at the bar."""
    from alphaloop.models.labels import daily_volatility

    bars, _ = universe
    settings = DatasetSettings(events="cusum", cusum_threshold=1.5, warmup_bars=0)
    labels = LabelSettings(pt_sl=(1.5, 1.5), vertical_bars=1, vol_span=20,
                           drop_truncated=True)
    ts = build_training_set(bars, ["ret_1"], labels, settings)
    expected = set()
    for symbol, g in bars.sort_values("ts").groupby("symbol"):
        close = g.set_index("ts")["close"]
        vol = daily_volatility(close, 20).to_numpy()
        log_ret = np.diff(np.log(close.to_numpy()), prepend=np.nan)
        s_pos = s_neg = 0.0
        for i in range(1, len(close) - 1):  # the last bar has no vertical barrier
            h = 1.5 * vol[i]
            if not np.isfinite(h):
                continue
            s_pos, s_neg = max(0.0, s_pos + log_ret[i]), min(0.0, s_neg + log_ret[i])
            if s_pos > h:
                s_pos = 0.0
                expected.add((symbol, close.index[i]))
            elif s_neg < -h:
                s_neg = 0.0
                expected.add((symbol, close.index[i]))
    assert set(zip(ts.frame["symbol"], ts.frame["t0"])) == expected
