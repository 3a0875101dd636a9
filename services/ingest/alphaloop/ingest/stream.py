"""Bars on the wire: stored bar frames as ``alphaloop.v1.Bar`` messages, published on the bars
topic keyed by symbol (so each symbol's bars stay in order for every consumer) and served by
``GetBars``."""

from __future__ import annotations

import math

import pandas as pd

from alphaloop.common.bus import Bus
from alphaloop.common.topics import Topic
from alphaloop.v1 import market_data_pb2


def _number(value: object) -> float:
    """0 for a value the source lacks (NaN, None, pd.NA), as the Bar message documents."""
    if value is None or value is pd.NA:
        return 0.0
    value = float(value)  # type: ignore[arg-type]
    return 0.0 if math.isnan(value) else value


def bars_to_protos(bars: pd.DataFrame) -> list[market_data_pb2.Bar]:
    """One ``Bar`` per row of a frame in the store's bar layout, in row order."""
    if bars.empty:
        return []
    ts_ns = pd.to_datetime(bars["ts"], utc=True).astype("int64").tolist()
    columns = {c: bars[c].tolist() for c in ("symbol", "interval", "open", "high", "low",
                                             "close", "volume", "source")}
    vwap = bars["vwap"].tolist() if "vwap" in bars else [None] * len(bars)
    trades = bars["trade_count"].tolist() if "trade_count" in bars else [None] * len(bars)
    out = []
    for i, ns in enumerate(ts_ns):
        bar = market_data_pb2.Bar(
            symbol=columns["symbol"][i],
            interval=columns["interval"][i],
            open=columns["open"][i],
            high=columns["high"][i],
            low=columns["low"][i],
            close=columns["close"][i],
            volume=_number(columns["volume"][i]),
            vwap=_number(vwap[i]),
            trade_count=int(_number(trades[i])),
            source=columns["source"][i] or "",
        )
        bar.timestamp.FromNanoseconds(ns)
        out.append(bar)
    return out


def publish_bars(bus: Bus, bars: pd.DataFrame, topic: str = str(Topic.BARS)) -> int:
    """Publish every bar of ``bars`` (sorted by symbol, ts) keyed by symbol; returns how many.

    Delivery is at least once: a hydration batch that is redone after a crash publishes its
    bars again, and consumers are idempotent on (symbol, interval, timestamp).
    """
    ordered = bars.sort_values(["symbol", "ts"], kind="stable") if len(bars) else bars
    count = 0
    for bar in bars_to_protos(ordered):
        bus.publish(topic, bar.symbol, bar)
        count += 1
    return count
