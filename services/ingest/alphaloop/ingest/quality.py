"""The quality gate: every bar is checked before it is stored as good. A bar that breaks a rule
goes to quarantine with the rule's name and a detail; nothing is silently dropped or fixed.

Rules here are row-level; series-level rules (calendar, gaps, stale series, spikes) join them
through the same ``Rule`` shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

PRICE_COLUMNS = ["open", "high", "low", "close"]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[pd.DataFrame], pd.Series]  # True where the bar breaks the rule
    detail: Callable[[pd.DataFrame], pd.Series]


def _non_positive_price(b: pd.DataFrame) -> pd.Series:
    prices = b[PRICE_COLUMNS]
    return (prices.isna() | (prices <= 0)).any(axis=1)


def _high_low_bracket(b: pd.DataFrame) -> pd.Series:
    top = np.maximum(b["open"], b["close"])
    bottom = np.minimum(b["open"], b["close"])
    return (b["high"] < top) | (b["low"] > bottom) | (b["high"] < b["low"])


def _negative_volume(b: pd.DataFrame) -> pd.Series:
    return b["volume"].isna() | (b["volume"] < 0)


def _duplicate_or_unordered(b: pd.DataFrame) -> pd.Series:
    dup = b.duplicated(["symbol", "interval", "ts"], keep="first")
    prev = b.groupby(["symbol", "interval"], sort=False)["ts"].shift()
    return dup | (prev.notna() & (b["ts"] < prev))


def _ohlc_detail(b: pd.DataFrame) -> pd.Series:
    return (
        "o=" + b["open"].astype(str) + " h=" + b["high"].astype(str)
        + " l=" + b["low"].astype(str) + " c=" + b["close"].astype(str)
    )


RULES: tuple[Rule, ...] = (
    Rule("non_positive_price", "a price is NaN, zero or negative", _non_positive_price, _ohlc_detail),
    Rule("high_low_bracket", "high below max(open, close) or low above min(open, close)",
         _high_low_bracket, _ohlc_detail),
    Rule("negative_volume", "volume is NaN or negative", _negative_volume,
         lambda b: "volume=" + b["volume"].astype(str)),
    Rule("duplicate_or_out_of_order", "same timestamp twice, or earlier than the previous bar",
         _duplicate_or_unordered, lambda b: "ts=" + b["ts"].astype(str)),
)


@dataclass
class GateResult:
    good: pd.DataFrame
    quarantined: pd.DataFrame  # the bar's columns + rule + detail (a bar may break several)
    counts: dict[str, int]  # rule -> bars caught


def apply_gate(bars: pd.DataFrame, rules: tuple[Rule, ...] = RULES) -> GateResult:
    """Split ``bars`` (input order kept) into good bars and quarantined bars with reasons."""
    bars = bars.reset_index(drop=True)
    bad_any = pd.Series(False, index=bars.index)
    caught = []
    counts: dict[str, int] = {}
    for rule in rules:
        mask = rule.check(bars).fillna(True).astype(bool)
        counts[rule.name] = int(mask.sum())
        if mask.any():
            hit = bars[mask].copy()
            hit["rule"] = rule.name
            hit["detail"] = rule.detail(hit)
            caught.append(hit)
        bad_any |= mask
    quarantined = (
        pd.concat(caught, ignore_index=True)
        if caught
        else bars.iloc[0:0].assign(rule=pd.Series(dtype=str), detail=pd.Series(dtype=str))
    )
    return GateResult(bars[~bad_any].reset_index(drop=True), quarantined, counts)
