"""Shared data for the feature tests: the bundled real bars (bytetheory, 524 S&P 500 symbols,
Aug 2009 - Aug 2010) after the quality gate, and a long real history (bokeh-sampledata: AAPL,
IBM, MSFT 2000-2013, GOOG from 2004, FB from 2012) for features with long warm-ups."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource


@pytest.fixture(scope="session")
def real_bars() -> pd.DataFrame:
    """Every clean bar of the bundled data (the 78 inconsistent rows quarantined)."""
    return apply_gate(BytetheorySource().load()).good


@pytest.fixture(scope="session")
def sample_symbols(real_bars: pd.DataFrame) -> list[str]:
    """20 symbols spread over the alphabet, each with a full year of bars."""
    counts = real_bars.groupby("symbol").size()
    full = sorted(counts[counts >= 240].index)
    return full[:: max(1, len(full) // 20)][:20]


@pytest.fixture(scope="session")
def long_bars() -> pd.DataFrame:
    """Real daily OHLCV with years of history (bokeh-sampledata, public domain)."""
    path = resources.files("bokeh_sampledata").joinpath("_data", "stocks.csv.gz")
    with path.open("rb") as fh:
        raw = pd.read_csv(fh, compression="gzip")
    bars = pd.DataFrame({
        "symbol": raw["Ticker"],
        "timestamp": pd.to_datetime(raw["Date"], utc=True),
        "open": raw["Open"].astype(float), "high": raw["High"].astype(float),
        "low": raw["Low"].astype(float), "close": raw["Close"].astype(float),
        "volume": raw["Volume"].astype(float),
    })
    ok = (bars["high"] >= bars[["open", "close"]].max(axis=1)) & (
        bars["low"] <= bars[["open", "close"]].min(axis=1))
    return bars[ok].reset_index(drop=True)


@pytest.fixture(scope="session")
def arrays_of():
    """``arrays_of(bars, symbol)`` -> (index labels of its rows in time order, column arrays)."""
    return _symbol_arrays


def _symbol_arrays(bars: pd.DataFrame, symbol: str) -> tuple[pd.Index, dict[str, np.ndarray]]:
    ts_col = "timestamp" if "timestamp" in bars.columns else "ts"
    rows = bars[bars["symbol"] == symbol].sort_values(ts_col)
    cols = {c: rows[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close",
                                                            "volume") if c in rows}
    return rows.index, cols
