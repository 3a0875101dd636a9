"""FilesSource: CSV and Parquet files or folders through a column mapping, with errors that
name the missing column or file."""

from __future__ import annotations

import csv
import math
from datetime import date

import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.sources.base import BAR_COLUMNS, PermanentSymbolError
from alphaloop.ingest.sources.files_source import FilesConfig, FilesSource

YAHOO_STYLE = """Date,Ticker,Open,High,Low,Close,Adj Close,Volume
2024-01-02,AAPL,187.15,188.44,183.885,185.64,184.29,82488674
2024-01-03,AAPL,184.22,185.88,183.43,184.25,182.91,58414460
2024-01-02,MSFT,373.86,375.9,366.77,370.87,367.75,25258633
2024-01-04,AAPL,182.15,183.0872,180.88,181.91,180.59,71983570
"""
MAPPING = {
    "Date": "ts",
    "Ticker": "symbol",
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Adj Close": "close",
    "Volume": "volume",
}


@pytest.fixture
def yahoo_csv(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(YAHOO_STYLE)
    return path


def test_csv_with_a_column_map_reads_the_mapped_columns(yahoo_csv):
    bars = FilesSource(FilesConfig(path=yahoo_csv, columns=MAPPING)).fetch(["AAPL", "MSFT"])

    with yahoo_csv.open() as fh:  # independent reading of the same file
        rows = sorted(csv.DictReader(fh), key=lambda r: (r["Ticker"], r["Date"]))
    assert list(bars.columns) == BAR_COLUMNS
    assert list(bars["symbol"]) == [r["Ticker"] for r in rows]
    assert [t.strftime("%Y-%m-%d") for t in bars["ts"]] == [r["Date"] for r in rows]
    assert list(bars["close"]) == [float(r["Adj Close"]) for r in rows]  # mapped, not "Close"
    assert list(bars["open"]) == [float(r["Open"]) for r in rows]
    assert list(bars["volume"]) == [float(r["Volume"]) for r in rows]
    assert (bars["ts"].dt.hour == 0).all() and str(bars["ts"].dt.tz) == "UTC"
    assert bars["vwap"].isna().all() and bars["trade_count"].isna().all()
    assert set(bars["source"]) == {"files"} and set(bars["interval"]) == {"1d"}


def test_fetch_filters_symbols_and_inclusive_dates(yahoo_csv):
    source = FilesSource(FilesConfig(path=yahoo_csv, columns=MAPPING))
    bars = source.fetch(["AAPL"], date(2024, 1, 3), date(2024, 1, 4))
    assert list(bars["ts"].dt.date) == [date(2024, 1, 3), date(2024, 1, 4)]
    with pytest.raises(PermanentSymbolError) as caught:
        source.fetch(["TSLA"])
    assert caught.value.symbol == "TSLA"


def test_parquet_intraday_file_is_read_in_its_timezone_and_stored_in_utc(tmp_path):
    path = tmp_path / "spy_5m.parquet"
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(["2024-07-01 09:30", "2024-07-01 09:35"]),
            "o": [545.63, 545.80],
            "h": [546.00, 546.10],
            "l": [545.50, 545.70],
            "c": [545.81, 546.02],
            "vol": [1_234_567, 654_321],
            "trades": [8123, 4567],
        }
    )
    frame.to_parquet(path)
    config = FilesConfig(
        path=path,
        symbol="SPY",
        timezone="America/New_York",
        interval="5m",
        columns={
            "time": "ts",
            "o": "open",
            "h": "high",
            "l": "low",
            "c": "close",
            "vol": "volume",
            "trades": "trade_count",
        },
    )

    bars = FilesSource(config).fetch(["SPY"], interval="5m")

    # 09:30 New York in July is EDT (UTC-4): 13:30 UTC.
    assert list(bars["ts"]) == [
        pd.Timestamp("2024-07-01 13:30", tz="UTC"),
        pd.Timestamp("2024-07-01 13:35", tz="UTC"),
    ]
    assert list(bars["close"]) == [545.81, 546.02]
    assert list(bars["trade_count"]) == [8123, 4567]
    assert set(bars["symbol"]) == {"SPY"} and set(bars["interval"]) == {"5m"}


def test_a_folder_of_per_symbol_files_takes_symbols_from_file_names(tmp_path):
    for symbol, close in (("IBM", 161.5), ("KO", 59.2)):
        (tmp_path / f"{symbol.lower()}.csv").write_text(f"date,close\n20240102,{close}\n")
    (tmp_path / "notes.md").write_text("not data")
    config = FilesConfig(path=tmp_path, symbol_from_filename=True, date_format="%Y%m%d")
    source = FilesSource(config)

    bars = source.fetch(["IBM", "KO"])

    assert list(bars["symbol"]) == ["IBM", "KO"] and list(bars["close"]) == [161.5, 59.2]
    assert bars[["open", "high", "low", "volume"]].isna().all().all()  # close-only: NaN
    assert list(source.symbols()["symbol"]) == ["IBM", "KO"]
    assert len(source.files()) == 2


def test_reference_columns_feed_symbols(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text(
        "symbol,ts,close,Company,GICS Sector\nAAPL,2024-01-02,185.64,Apple Inc.,"
        "Information Technology\n"
    )
    source = FilesSource(
        FilesConfig(path=path, columns={"Company": "name", "GICS Sector": "sector"})
    )
    row = source.symbols().iloc[0]
    assert (row["symbol"], row["name"], row["sector"], row["industry"]) == (
        "AAPL",
        "Apple Inc.",
        "Information Technology",
        "",
    )


def test_a_missing_mapped_column_names_the_column_and_the_file(yahoo_csv):
    mapping = {**MAPPING, "Adjusted": "close"}
    del mapping["Adj Close"]
    with pytest.raises(InvalidInputError) as caught:
        FilesSource(FilesConfig(path=yahoo_csv, columns=mapping)).load()
    message = str(caught.value)
    assert "'Adjusted' (mapped to close) is missing" in message
    assert "prices.csv" in message and "Adj Close" in message  # lists what the file has
    assert caught.value.field == "columns"


def test_a_file_without_a_close_or_symbol_says_which_mapping_to_add(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Day,Code,Last\n2024-01-02,AAPL,1.0\n")
    with pytest.raises(InvalidInputError, match="no column maps to 'close'"):
        FilesSource(FilesConfig(path=path, columns={"Day": "ts", "Code": "symbol"})).load()
    with pytest.raises(InvalidInputError, match="no column maps to 'symbol'"):
        FilesSource(FilesConfig(path=path, columns={"Day": "ts", "Last": "close"})).load()
    with pytest.raises(InvalidInputError, match="no column maps to 'ts'"):
        FilesSource(FilesConfig(path=path, columns={"Code": "symbol", "Last": "close"})).load()


def test_a_missing_path_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "prices.csv"
    with pytest.raises(InvalidInputError, match="nowhere/prices.csv does not exist"):
        FilesSource(FilesConfig(path=missing)).load()


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(InvalidInputError, match="holds no CSV or Parquet files"):
        FilesSource(FilesConfig(path=tmp_path)).load()


def test_mapping_to_something_that_is_not_a_bar_field_is_rejected(tmp_path):
    with pytest.raises(ValidationError, match="'Adj Close' maps to 'adjclose'"):
        FilesConfig(path=tmp_path, columns={"Adj Close": "adjclose"})


def test_unparseable_dates_and_numbers_are_errors_not_silent_nans(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("symbol,ts,close\nAAPL,02/01/2024,1.0\n")
    with pytest.raises(InvalidInputError, match="does not parse"):
        FilesSource(FilesConfig(path=path)).load()
    path.write_text("symbol,ts,close\nAAPL,2024-01-02,n/a?\n")
    with pytest.raises(InvalidInputError, match="non-number"):
        FilesSource(FilesConfig(path=path)).load()


def test_a_row_without_a_symbol_is_an_error(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("symbol,ts,close\nAAPL,2024-01-02,1.0\n,2024-01-03,2.0\n")
    with pytest.raises(InvalidInputError, match="row 2 has no symbol"):
        FilesSource(FilesConfig(path=path)).load()


def test_empty_cells_stay_missing(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("symbol,ts,open,close,volume\nAAPL,2024-01-02,,185.64,\n")
    bar = FilesSource(FilesConfig(path=path)).fetch(["AAPL"]).iloc[0]
    assert math.isnan(bar["open"]) and math.isnan(bar["volume"]) and bar["close"] == 185.64


def test_settings_come_from_the_environment(monkeypatch, yahoo_csv):
    monkeypatch.setenv("ALPHALOOP_INGEST_FILES_PATH", str(yahoo_csv))
    monkeypatch.setenv(
        "ALPHALOOP_INGEST_FILES_COLUMNS", '{"Date": "ts", "Ticker": "symbol", "Close": "close"}'
    )
    config = FilesConfig()
    assert config.path == yahoo_csv and config.columns["Close"] == "close"
    assert len(FilesSource(config).fetch(["MSFT"])) == 1
