"""Is the Sharpe ratio real? The probabilistic Sharpe ratio (Bailey & Lopez de Prado 2012,
"The Sharpe Ratio Efficient Frontier", J. Risk 15(2), eq. 7) and the deflated Sharpe ratio
(Bailey & Lopez de Prado 2014, "The Deflated Sharpe Ratio", J. Portfolio Mgmt 40(5), eq. 2).

PSR(SR*) = Phi( (SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2) )

with SR the per-bar (not annualised) Sharpe ratio of T returns, g3 their skewness and g4
their kurtosis (3 for a normal, *not* excess kurtosis).

DSR = PSR(SR0),  SR0 = sqrt(V) [ (1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)) ]

SR0 is the expected maximum Sharpe of N trials that all have zero true skill, with gamma the
Euler-Mascheroni constant and V the variance of the trials' Sharpe ratios (per bar).

Conventions chosen here (purgedcv 0.1.11 chose differently; see ``sharpe_moments``):

* SR uses ``ddof=1``, so ``SR * sqrt(252)`` is exactly the ``sharpe`` metric;
* g3, g4 are the moment estimators of the paper (``E[(r-mu)^3]/sigma^3`` and
  ``E[(r-mu)^4]/sigma^4``, population moments: scipy's ``bias=True``);
* N counts every configuration tried (parameter sets, feature sets, models, strategies), not
  only those whose Sharpe was kept; ``trial_sharpes`` are annualised (the units of ``sharpe``)
  and their sample variance is divided by 252 to get V per bar;
* with N > 1 but no trial Sharpes, V falls back to ``1 / (T - 1)``: the variance of a zero-skill
  Sharpe estimate over T bars (the PSR denominator at SR = 0), i.e. all trials were noise;
* with N = 1, SR0 = 0 and DSR = PSR(0).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from alphaloop.grading.metrics._inputs import TRADING_DAYS, ArrayLike, as_returns

EULER_MASCHERONI = 0.5772156649015329


def sharpe_moments(returns: ArrayLike, *, ddof: int = 1,
                   bias: bool = True) -> tuple[float, float, float, int]:
    """``(SR per bar, skewness, kurtosis (non-excess), T)``. ``ddof=0, bias=False`` reproduces
    purgedcv's estimators."""
    r = as_returns(returns, min_length=3).to_numpy()
    std = np.std(r, ddof=ddof)
    if r.max() == r.min():
        raise ValueError("returns are constant: the Sharpe ratio and its moments are undefined")
    skew = float(stats.skew(r, bias=bias))
    kurt = float(stats.kurtosis(r, fisher=False, bias=bias))
    return float(r.mean() / std), skew, kurt, int(r.size)


def psr_from_moments(sharpe: float, n: int, skew: float, kurtosis: float,
                     sharpe_benchmark: float = 0.0) -> float:
    """PSR from per-bar Sharpe, track length, skewness and (non-excess) kurtosis."""
    variance = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance > 0.0:
        # Possible only for extreme skew with a large Sharpe: the normal approximation breaks.
        return float("nan")
    z = (sharpe - sharpe_benchmark) * math.sqrt(n - 1) / math.sqrt(variance)
    return float(stats.norm.cdf(z))


def probabilistic_sharpe_ratio(returns: ArrayLike, sharpe_benchmark: float = 0.0, *,
                               ddof: int = 1, bias: bool = True) -> float:
    """Probability that the true per-bar Sharpe exceeds ``sharpe_benchmark`` (per bar)."""
    sharpe, skew, kurt, n = sharpe_moments(returns, ddof=ddof, bias=bias)
    return psr_from_moments(sharpe, n, skew, kurt, sharpe_benchmark)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """SR0: expected maximum of ``n_trials`` zero-skill Sharpe estimates whose variance is
    ``sharpe_variance`` (same units as the result; 0 for a single trial)."""
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if sharpe_variance < 0.0:
        raise ValueError(f"sharpe_variance must be >= 0, got {sharpe_variance}")
    if n_trials == 1:
        return 0.0
    g = EULER_MASCHERONI
    z = (1 - g) * stats.norm.ppf(1 - 1 / n_trials) + g * stats.norm.ppf(1 - 1 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * z)


def trial_count_and_variance(n_trials: int, trial_sharpes: ArrayLike | None, n_obs: int,
                             annualization: int = TRADING_DAYS) -> tuple[int, float]:
    """N and the per-bar variance V of trial Sharpes, by the rules in the module docstring."""
    sharpes = None if trial_sharpes is None else np.asarray(trial_sharpes, dtype=float).ravel()
    if sharpes is not None and not np.isfinite(sharpes).all():
        raise ValueError("trial_sharpes contain NaN or infinite values")
    n = max(int(n_trials), 0 if sharpes is None else sharpes.size)
    if n < 1:
        raise ValueError("n_trials must be >= 1")
    if sharpes is not None and sharpes.size >= 2:
        return n, float(np.var(sharpes, ddof=1) / annualization)
    return n, 1.0 / (n_obs - 1)


def deflated_sharpe_ratio(returns: ArrayLike, n_trials: int = 1,
                          trial_sharpes: ArrayLike | None = None, *,
                          annualization: int = TRADING_DAYS, ddof: int = 1,
                          bias: bool = True) -> float:
    """PSR against the Sharpe the best of ``n_trials`` skill-less trials would show by luck."""
    sharpe, skew, kurt, n_obs = sharpe_moments(returns, ddof=ddof, bias=bias)
    n, variance = trial_count_and_variance(n_trials, trial_sharpes, n_obs, annualization)
    return psr_from_moments(sharpe, n_obs, skew, kurt, expected_max_sharpe(n, variance))
