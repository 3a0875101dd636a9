"""A restarted incremental engine seeded from stored bars carries on exactly: real bundled bars
of 12 symbols, the engine seeded with a prefix of them, then fed the rest; every vector equals
the batch ``compute`` over the whole history (NaN-aware, bit for bit), no vector is emitted for
a date the seed treats as already published, and every later date is emitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop import features
from alphaloop.features.incremental import IncrementalEngine, rows_to_frame

N_SYMBOLS = 12
N_DATES = 100
CUT = 60  # the seed holds dates [0, CUT]


@pytest.fixture(scope="module")
def bars(real_bars) -> pd.DataFrame:
    symbols = sorted(real_bars["symbol"].unique())[::40][:N_SYMBOLS]
    sub = real_bars[real_bars["symbol"].isin(symbols)]
    dates = np.sort(sub["ts"].unique())[:N_DATES]
    sub = sub[sub["ts"].isin(dates)]
    return sub.sort_values(["ts", "symbol"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def dates(bars) -> np.ndarray:
    return np.sort(bars["ts"].unique())


@pytest.fixture(scope="module")
def batch(bars) -> pd.DataFrame:
    out = features.compute(bars)
    out.index = pd.MultiIndex.from_arrays([bars["symbol"], bars["ts"]],
                                          names=["symbol", "timestamp"])
    return out


def _records(frame: pd.DataFrame):
    return frame[["symbol", "ts", "open", "high", "low", "close", "volume", "vwap"]].to_dict(
        "records")


def assert_equal_to_batch(rows, batch: pd.DataFrame) -> pd.DataFrame:
    got = rows_to_frame(rows)
    assert got.index.is_unique
    assert list(got.columns) == list(batch.columns)
    want = batch.loc[got.index]
    for name in batch.columns:
        np.testing.assert_array_equal(got[name].to_numpy(), want[name].to_numpy(), err_msg=name)
    return got


def _dates_of(rows) -> set[pd.Timestamp]:
    return {r.timestamp for r in rows}


def test_seed_emits_nothing_for_published_dates_and_carries_on_exactly(bars, dates, batch):
    stored = bars[bars["ts"] <= dates[CUT]]
    engine = IncrementalEngine()
    assert engine.seed(stored) == []  # the newest stored date waits for a later bar
    assert engine.pending_dates == 1
    assert engine.seeded == (stored["ts"] < dates[CUT]).sum()
    assert engine.emitted_through == dates[CUT - 1]

    # the bus redelivers the last stored dates (at least once), then brings new bars
    again = bars[(bars["ts"] >= dates[CUT - 3]) & (bars["ts"] <= dates[CUT])]
    rows = engine.add_many(_records(again))
    rows += engine.add_many(_records(bars[bars["ts"] > dates[CUT]]))
    rows += engine.flush()

    assert engine.duplicates == len(again) and engine.rejected == 0
    assert _dates_of(rows) == {pd.Timestamp(d) for d in dates[CUT:]}
    got = assert_equal_to_batch(rows, batch)
    assert len(got) == (bars["ts"] >= dates[CUT]).sum()


def test_seed_with_a_watermark_emits_every_date_after_it(bars, dates, batch):
    # the store is ahead of what was published: dates CUT-2..CUT were pending or unpublished
    stored = bars[bars["ts"] <= dates[CUT]]
    engine = IncrementalEngine()
    rows = engine.seed(stored, emitted_through=dates[CUT - 3])
    assert _dates_of(rows) == {pd.Timestamp(d) for d in dates[CUT - 2:CUT]}
    rows += engine.add_many(_records(bars[bars["ts"] > dates[CUT]]))
    rows += engine.flush()
    assert _dates_of(rows) == {pd.Timestamp(d) for d in dates[CUT - 2:]}
    assert_equal_to_batch(rows, batch)


def test_seed_in_universe_mode_completes_a_date_every_symbol_reached(bars, dates, batch):
    symbols = sorted(bars["symbol"].unique())
    half = symbols[: len(symbols) // 2]
    # stored: everything through CUT-1, half the symbols at CUT (the others' bars come later)
    stored = bars[(bars["ts"] < dates[CUT]) | ((bars["ts"] == dates[CUT])
                                               & bars["symbol"].isin(half))]
    engine = IncrementalEngine(universe=symbols)
    rows = engine.seed(stored, emitted_through=dates[CUT - 2])
    assert _dates_of(rows) == {pd.Timestamp(dates[CUT - 1])}
    assert engine.pending_dates == 1
    # symbol by symbol, as a keyed bus delivers them, stored bars included
    rest = bars[bars["ts"] >= dates[CUT]].sort_values(["symbol", "ts"], kind="stable")
    rows += engine.add_many(_records(rest))
    rows += engine.flush()
    assert engine.rejected == 0 and engine.duplicates == len(half)
    assert _dates_of(rows) == {pd.Timestamp(d) for d in dates[CUT - 1:]}
    assert_equal_to_batch(rows, batch)


def test_seeding_no_bars_leaves_the_engine_empty(bars, dates):
    engine = IncrementalEngine()
    assert engine.seed(bars.iloc[:0]) == []
    assert engine.pending_dates == 0 and engine.seeded == 0
    assert engine.emitted_through is None
    head = bars[bars["ts"] <= dates[30]]
    rows = engine.add_many(_records(head)) + engine.flush()
    want = features.compute(head)
    want.index = pd.MultiIndex.from_arrays([head["symbol"], head["ts"]])
    assert len(assert_equal_to_batch(rows, want)) == len(head)


def test_a_bar_of_a_seeded_date_the_store_lacked_is_rejected(bars, dates):
    stored = bars[bars["ts"] <= dates[CUT]]
    missing = stored[stored["ts"] == dates[CUT - 5]].iloc[0]
    engine = IncrementalEngine()
    engine.seed(stored.drop(index=missing.name))
    assert engine.add(missing.to_dict()) == []
    assert engine.rejected == 1


def test_only_a_fresh_engine_can_be_seeded(bars, dates):
    engine = IncrementalEngine(["rsi_14"])
    engine.add_many(_records(bars[bars["ts"] == dates[0]]))
    with pytest.raises(RuntimeError, match="fresh engine"):
        engine.seed(bars)


def test_two_bars_of_one_symbol_and_time_are_refused(bars):
    two_intervals = pd.concat([bars.head(3), bars.head(3).assign(interval="1h")])
    with pytest.raises(ValueError, match="two bars of"):
        IncrementalEngine(["rsi_14"]).seed(two_intervals)
