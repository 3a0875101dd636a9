"""Meta-labels (AFML 3.6-3.7): given a primary strategy's side, label 1 when the side's trade
won and 0 otherwise, so a secondary model learns whether (and how much) to act on the side.

"Won" follows the vertical-barrier convention of :func:`triple_barrier`: with
``vertical_label="sign"`` (AFML snippet 3.7) a trade wins when it hits profit-taking or ends at
the vertical barrier with a positive return; with ``"zero"`` only a profit-taking touch wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alphaloop.models.labels.triple_barrier import triple_barrier, triple_barrier_by_symbol


def meta_labels(close: pd.Series, side: pd.Series, pt_sl: Sequence[float],
                vertical_bars: int | None, volatility: pd.Series | float, min_ret: float = 0.0,
                *, events=None, vertical_label: str = "sign") -> pd.DataFrame:
    """Meta-labels of one symbol: :func:`triple_barrier` with the primary ``side`` (+1/-1 at each
    event start; 0 or NaN = no trade), ``label`` replaced by 1 (the side's trade won) or 0.

    ``events`` defaults to every bar where the side is nonzero. ``pt_sl`` may be asymmetric: the
    profit-taking barrier is always in the side's favour. ``ret`` is the side's return.
    """
    if events is None:
        events = side.index[side.fillna(0).to_numpy() != 0]
    barriers = triple_barrier(close, events, pt_sl, vertical_bars, volatility, min_ret, side=side,
                              vertical_label=vertical_label)
    return to_meta_labels(barriers)


def meta_labels_by_symbol(bars: pd.DataFrame, side_column: str, pt_sl: Sequence[float],
                          vertical_bars: int | None, **kwargs) -> pd.DataFrame:
    """:func:`meta_labels` for every symbol of a long bars frame (see
    :func:`triple_barrier_by_symbol` for the keyword arguments); events are the bars where
    ``side_column`` is nonzero (and, if given, ``event_column`` is true)."""
    barriers = triple_barrier_by_symbol(bars, pt_sl, vertical_bars, side_column=side_column,
                                        **kwargs)
    return to_meta_labels(barriers)


def to_meta_labels(barriers: pd.DataFrame) -> pd.DataFrame:
    """Turn a side-adjusted triple-barrier frame into meta-labels: 1 where its label is +1."""
    out = barriers.copy()
    out["label"] = (barriers["label"].to_numpy() == 1).astype(np.int64)
    return out
