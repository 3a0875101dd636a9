"""The incremental engine equals the batch ``compute`` exactly: the real bundled bars of 30
symbols fed one at a time (date by date, symbols interleaved), every feature compared with
NaN-aware exact equality; duplicates are ignored and late bars rejected."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from alphaloop import features
from alphaloop.features.incremental import IncrementalEngine, rows_to_frame

N_SYMBOLS = 30


@pytest.fixture(scope="module")
def bars(real_bars) -> pd.DataFrame:
    symbols = sorted(real_bars["symbol"].unique())
    chosen = symbols[:: max(1, len(symbols) // N_SYMBOLS)][:N_SYMBOLS]
    sub = real_bars[real_bars["symbol"].isin(chosen)]
    return sub.sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def batch(bars) -> pd.DataFrame:
    out = features.compute(bars)
    out.index = pd.MultiIndex.from_arrays([bars["symbol"], bars["ts"]],
                                          names=["symbol", "timestamp"])
    return out


def assert_exactly_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    got = got.loc[want.index]
    for name in want.columns:
        # assert_array_equal treats NaN == NaN and otherwise demands the same floats
        np.testing.assert_array_equal(got[name].to_numpy(), want[name].to_numpy(),
                                      err_msg=name)


def _records(frame: pd.DataFrame):
    cols = ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap"]
    return frame[cols].to_dict("records")


def test_bar_by_bar_equals_batch_for_every_feature(bars, batch):
    engine = IncrementalEngine()
    rows = []
    for record in _records(bars):
        rows.extend(engine.add(record))
    rows.extend(engine.flush())
    got = rows_to_frame(rows)
    assert len(got) == len(bars) == len(batch)
    assert len(batch.columns) == len(features.describe())
    assert bars["symbol"].nunique() == N_SYMBOLS
    assert_exactly_equal(got, batch)
    assert engine.duplicates == engine.rejected == 0


def test_duplicates_are_ignored_and_old_bars_rejected(bars, batch, caplog):
    head = bars[bars["ts"] <= bars["ts"].unique()[40]]
    engine = IncrementalEngine()
    rows = []
    records = _records(head)
    for i, record in enumerate(records):
        rows.extend(engine.add(record))
        if i % 7 == 0:  # redelivery right away (still pending) ...
            rows.extend(engine.add(record))
        if i % 11 == 0 and i > 100:  # ... and long after its date was emitted
            rows.extend(engine.add(records[i - 100]))
    with caplog.at_level(logging.WARNING, logger="alphaloop.features.incremental"):
        late = dict(records[0])
        late["ts"] = late["ts"] - pd.Timedelta(days=400)  # older than the symbol's last bar
        assert engine.add(late) == []
    assert engine.rejected == 1
    assert "rejected" in caplog.text
    rows.extend(engine.flush())
    got = rows_to_frame(rows)
    assert len(got) == len(head) and got.index.is_unique
    assert engine.duplicates > 0
    want = features.compute(head)
    want.index = pd.MultiIndex.from_arrays([head["symbol"], head["ts"]])
    assert_exactly_equal(got, want)


def test_universe_mode_completes_dates_when_every_symbol_moved_past_them(bars, batch):
    # symbol-major order (as a keyed bus may deliver): nothing may be emitted early
    head = bars[bars["ts"] <= bars["ts"].unique()[30]]
    symbols = sorted(head["symbol"].unique())
    engine = IncrementalEngine(universe=symbols)
    rows = []
    ordered = head.sort_values(["symbol", "ts"], kind="stable")
    for record in _records(ordered):
        rows.extend(engine.add(record))
    rows.extend(engine.flush())
    got = rows_to_frame(rows)
    assert engine.rejected == 0 and len(got) == len(head)
    want = features.compute(head)
    want.index = pd.MultiIndex.from_arrays([head["symbol"], head["ts"]])
    assert_exactly_equal(got, want)


def test_names_filter_and_a_date_batch(bars, batch):
    names = ["rsi_14", "cs_rank_ret_5", "regime_trend_50", "day_of_week"]
    names = [n for n in names if n in batch.columns]
    engine = IncrementalEngine(names)
    rows = []
    for _, day in bars.groupby("ts", sort=True):
        rows.extend(engine.add_many(_records(day)))
    rows.extend(engine.flush())
    got = rows_to_frame(rows)
    assert list(got.columns) == names
    assert_exactly_equal(got, batch[names])
