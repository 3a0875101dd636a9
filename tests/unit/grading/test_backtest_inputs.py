"""The backtester's inputs: bars on a grid, decisions aligned to it, and the volatility and ADV
the impact model reads, which must be known before the fill (checked against pandas' rolling
statistics lagged one bar, computed independently here)."""

import numpy as np
import pandas as pd

from alphaloop.grading.backtest.inputs import align_decisions, bar_grid, lagged_statistics


def _bars(rng, n_bars=300, n_sym=6):
    ts = pd.bdate_range("2020-01-01", periods=n_bars, tz="UTC")
    frames = []
    for j in range(n_sym):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n_bars)))
        frame = pd.DataFrame({"symbol": f"S{j}", "ts": ts, "open": close, "high": close,
                              "low": close, "close": close,
                              "volume": rng.lognormal(10, 1, n_bars)})
        frames.append(frame[rng.random(n_bars) > 0.15])  # gaps
    return pd.concat(frames).sample(frac=1.0, random_state=1)  # any row order


def test_sigma_and_adv_equal_pandas_rolling_through_the_previous_bar():
    rng = np.random.default_rng(5)
    bars = _bars(rng)
    grid = bar_grid(bars)
    sigma, adv = lagged_statistics(grid, volatility_window=20, adv_window=10, min_history=5)

    close = bars.pivot(index="ts", columns="symbol", values="close")
    volume = bars.pivot(index="ts", columns="symbol", values="volume")
    returns = close / close.ffill().shift(1) - 1.0  # a return after a gap spans it
    ref_sigma = returns.rolling(20, min_periods=5).std().where(close.notna()).ffill().shift(1)
    ref_adv = volume.rolling(10, min_periods=5).mean().where(close.notna()).ffill().shift(1)

    np.testing.assert_allclose(sigma, ref_sigma.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(adv, ref_adv.to_numpy(), rtol=1e-12)


def test_statistics_at_a_bar_ignore_that_bar_and_everything_after():
    rng = np.random.default_rng(9)
    bars = _bars(rng, n_bars=60, n_sym=2)
    grid = bar_grid(bars)
    base = lagged_statistics(grid, 10, 10, 3)
    t = 30
    shocked = bars.copy()
    later = shocked["ts"] >= grid.ts[t]
    shocked.loc[later, ["close", "volume"]] *= 7.0
    moved = lagged_statistics(bar_grid(shocked), 10, 10, 3)
    for a, b in zip(base, moved):
        np.testing.assert_array_equal(a[: t + 1], b[: t + 1])
        assert not np.allclose(a[t + 2:], b[t + 2:], equal_nan=True)


def test_wide_and_long_decisions_align_identically():
    rng = np.random.default_rng(2)
    grid = bar_grid(_bars(rng, n_bars=20, n_sym=3))
    wide = pd.DataFrame(rng.normal(size=(20, 3)), index=grid.ts, columns=grid.symbols)
    wide = wide.where(rng.random(wide.shape) < 0.5)
    long = wide.stack().rename("target").rename_axis(["ts", "symbol"]).reset_index()
    np.testing.assert_array_equal(align_decisions(wide, grid, "targets"),
                                  align_decisions(long, grid, "targets"))
    # a subset of columns and rows in another order is fine; missing cells are no decision
    part = wide.iloc[::-2, [2, 0]]
    got = align_decisions(part, grid, "targets")
    assert np.isnan(got[:, 1]).all()
    np.testing.assert_array_equal(got[::-2][:, [2, 0]][: len(part)],
                                  part.to_numpy()[: len(part)])
