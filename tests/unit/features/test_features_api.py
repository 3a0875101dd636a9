"""The public surface: ``compute`` keeps the caller's rows, refuses unknown names, leaves out
(never fills) features whose inputs the bars lack, and ``describe`` documents every feature."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pandas as pd
import pytest

from alphaloop import features
from alphaloop.common.errors import InvalidInputError
from alphaloop.features.library.registry import BAR_INPUTS, FAMILIES


@pytest.fixture(scope="module")
def bars(real_bars, sample_symbols):
    return real_bars[real_bars["symbol"].isin(sample_symbols[:6])]


def test_describe_lists_at_least_sixty_features_with_family_inputs_warmup_and_formula():
    specs = features.describe()
    assert len(specs) >= 60
    assert len({s.name for s in specs}) == len(specs)
    assert {s.family for s in specs} == set(FAMILIES)
    for spec in specs:
        assert set(spec.inputs) <= set(BAR_INPUTS), spec.name
        assert isinstance(spec.warmup, int) and spec.warmup >= 0, spec.name
        assert spec.description == inspect.getdoc(spec.function), spec.name
        assert any(ch in spec.description for ch in "=/()[]"), f"{spec.name}: no formula"
        assert spec.as_dict()["name"] == spec.name


def test_describe_filters_by_family():
    momentum = features.describe("momentum")
    assert momentum and all(s.family == "momentum" for s in momentum)


def test_result_keeps_the_callers_index_and_row_order(bars):
    shuffled = bars.sample(frac=1.0, random_state=7)
    shuffled.index = [f"row{i}" for i in range(len(shuffled))]
    out = features.compute(shuffled)
    assert out.index.equals(shuffled.index)
    assert (out.dtypes == np.float64).all()
    assert list(out.columns) == [s.name for s in features.describe()]


def test_interleaved_unsorted_rows_give_the_same_values_as_sorted_rows(bars):
    ordered = bars.sort_values(["symbol", "ts"])
    shuffled = bars.sample(frac=1.0, random_state=11)
    a = features.compute(ordered)
    b = features.compute(shuffled)
    pd.testing.assert_frame_equal(a.loc[shuffled.index], b)


def test_timestamp_and_ts_are_the_same_column(bars):
    a = features.compute(bars, ["rsi_14", "day_of_week", "cs_rank_ret_21"])
    b = features.compute(bars.rename(columns={"ts": "timestamp"}),
                         ["rsi_14", "day_of_week", "cs_rank_ret_21"])
    pd.testing.assert_frame_equal(a, b)


def test_names_pick_features_in_the_order_asked(bars):
    out = features.compute(bars, ["macd_hist", "ret_1", "macd_hist"])
    assert list(out.columns) == ["macd_hist", "ret_1"]


def test_unknown_feature_names_are_refused_by_name(bars):
    with pytest.raises(InvalidInputError) as err:
        features.compute(bars, ["rsi_14", "rsi_15", "magic"])
    assert err.value.field == "names"
    assert "rsi_15" in str(err.value) and "magic" in str(err.value)


def test_close_only_bars_leave_out_what_needs_high_low_volume_with_one_note(bars, caplog):
    close_only = bars[["symbol", "ts", "close"]]
    with caplog.at_level(logging.INFO, logger="alphaloop.features"):
        out = features.compute(close_only)
    needs_more = [s.name for s in features.describe()
                  if set(s.inputs) - {"close", "timestamp"}]
    assert needs_more and not set(needs_more) & set(out.columns)
    notes = [r for r in caplog.records if r.name == "alphaloop.features"]
    assert len(notes) == 1
    message = notes[0].getMessage()
    for name in needs_more:
        assert name in message
    assert "high" in message and "volume" in message
    # what is kept is computed from the close alone: equal to the full-data values
    full = features.compute(bars, list(out.columns))
    pd.testing.assert_frame_equal(out, full)
    assert {"ret_1", "rsi_14", "macd", "ffd_log_close_short", "turn_of_month",
            "cs_rank_ret_21", "regime_trend_50", "herding"} <= set(out.columns)


def test_a_column_with_no_values_counts_as_missing(bars, caplog):
    no_volume = bars.assign(volume=np.nan)
    with caplog.at_level(logging.INFO, logger="alphaloop.features"):
        out = features.compute(no_volume, ["obv", "rsi_14"])
    assert list(out.columns) == ["rsi_14"]
    assert "obv (needs volume)" in caplog.text


def test_bars_without_symbol_timestamp_or_close_are_refused(bars):
    for column in ("symbol", "ts", "close"):
        with pytest.raises(InvalidInputError) as err:
            features.compute(bars.drop(columns=[column]))
        assert err.value.field == "bars"


def test_duplicate_bars_for_a_symbol_are_refused(bars):
    with pytest.raises(InvalidInputError, match="duplicate"):
        features.compute(pd.concat([bars, bars.iloc[:1]]))


def test_parameters_are_checked_against_the_feature(bars):
    with pytest.raises(InvalidInputError) as err:
        features.compute(bars, ["ffd_log_close"], params={"ffd_log_close": {"q": 1}})
    assert err.value.field == "params"
    with pytest.raises(InvalidInputError):
        features.compute(bars, params={"nope": {}})


def test_empty_bars_give_an_empty_frame(bars):
    out = features.compute(bars.iloc[:0], ["rsi_14", "cs_z_ret_21"])
    assert out.shape == (0, 2)


def test_declared_warmup_is_the_first_bar_with_a_value(long_bars):
    # IBM trades on every date of this data set from its first bar, so date-based (regime,
    # cross-sectional) warm-ups count in its bars too
    out = features.compute(long_bars)
    rows = long_bars[long_bars["symbol"] == "IBM"].sort_values("timestamp").index
    for spec in features.describe():
        values = out.loc[rows, spec.name].to_numpy()
        first = int(np.argmax(~np.isnan(values)))
        assert first == spec.warmup, (spec.name, first, spec.warmup)
