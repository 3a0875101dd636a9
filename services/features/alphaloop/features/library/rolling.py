"""Numba kernels shared by the families: rolling sums, means, deviations, extremes, the
SMA-seeded EMA and the true range, all on one symbol's float64 array in time order.

Every kernel is causal (output at bar t reads bars <= t only) and processes bars in time order,
so truncating the history at the end never changes an earlier value bit for bit. Rolling-window
kernels give NaN while a NaN input is inside the window and recover once it has left; the
recursive TA-Lib indicators (EMA, Wilder smoothing) propagate a NaN as TA-Lib does.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit, objmode
from numba.core.errors import NumbaWarning

#: One decorator for every kernel: cached to disk, GIL released (the engine runs symbols on
#: threads), NumPy's float semantics for division by zero (no Python exception checks).
kernel = njit(cache=True, nogil=True, error_model="numpy")
#: The same, with fused multiply-add allowed ("contract" only: no reassociation). The TA-Lib
#: wheel's C build fuses a * b + c in its Wilder/EMA recursions (ATR, EMA, MACD, ADOSC), so
#: those kernels use it to agree to the last bit; the others match TA-Lib without it.
fused_kernel = njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})

NAN = np.nan
#: Outputs at least this long are allocated by NumPy (see ``alloc``).
LARGE = 1 << 16

# Numba compiles ``alloc``'s object-mode block the first time a kernel runs it in a process,
# and warns then that object mode holds the GIL: intended, it only allocates (long series).
warnings.filterwarnings("ignore", message="Code running in object mode won't allow parallel",
                        category=NumbaWarning)


@njit(cache=True, error_model="numpy")
def alloc(m):
    """An uninitialised float64 array. Long arrays come from NumPy's allocator, which asks the
    kernel for huge pages; numba's own allocator takes a page fault every 4 KiB, which costs
    more than the arithmetic of a cheap indicator over a million bars. Per-symbol arrays are
    short and stay on numba's allocator (no GIL taken)."""
    if m >= LARGE:
        with objmode(out="float64[::1]"):
            out = np.empty(m)
        return out
    return np.empty(m)


@kernel
def nan_head(m, k):
    """An uninitialised float64 array of length m whose first k values are NaN."""
    out = alloc(m)
    for i in range(min(k, m)):
        out[i] = NAN
    return out


@kernel
def shift_return(x, n):
    """(x[t] - x[t-n]) / x[t-n] (TA-Lib ROCP; exact for small moves, unlike x[t]/x[t-n] - 1)."""
    m = x.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    now, then, dest = x[n:], x[: m - n], out[n:]
    for i in range(m - n):
        dest[i] = (now[i] - then[i]) / then[i]
    return out


@kernel
def log_return(x, n):
    """ln(x[t] / x[t-n])."""
    m = x.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    now, then, dest = x[n:], x[: m - n], out[n:]
    for i in range(m - n):
        dest[i] = np.log(now[i] / then[i])
    return out


@kernel
def rolling_sum(x, n):
    """Sum of the last n values (NaN while a NaN is in the window). The running total adds the
    newest value, is read, then drops the oldest: TA-Lib's SMA order of operations."""
    m = x.shape[0]
    out = np.full(m, NAN)
    total = 0.0
    nans = 0
    for i in range(m):
        v = x[i]
        if not np.isnan(v):
            total += v
        else:
            nans += 1
        if i >= n - 1:
            if nans == 0:
                out[i] = total
            old = x[i - n + 1]
            if not np.isnan(old):
                total -= old
            else:
                nans -= 1
    return out


@kernel
def rolling_mean(x, n):
    """Mean of the last n values; equals TA-Lib SMA(n) bit for bit on finite input (same
    running total: add the newest, read, drop the oldest). NaN while a NaN is in the window."""
    m = x.shape[0]
    out = nan_head(m, n - 1)
    if m < n:
        return out
    if not _has_nan(x):
        size = float(n)
        total = 0.0
        for i in range(n - 1):
            total += x[i]
        head = x[n - 1:]  # offset views let LLVM prove the loop free of aliasing
        tail = x[: m - n + 1]
        dest = out[n - 1:]
        for i in range(m - n + 1):
            total += head[i]
            dest[i] = total / size
            total -= tail[i]
        return out
    total = 0.0
    nans = 0
    for i in range(m):
        v = x[i]
        if not np.isnan(v):
            total += v
        else:
            nans += 1
        if i >= n - 1:
            out[i] = total / n if nans == 0 else NAN
            old = x[i - n + 1]
            if not np.isnan(old):
                total -= old
            else:
                nans -= 1
    return out


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _has_nan(x):
    """True when x holds a NaN or an infinity (x * 0 is NaN exactly for those; the sum may be
    reordered, which lets it vectorise and cannot change whether it is NaN)."""
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i] * 0.0
    return np.isnan(acc)


@kernel
def rolling_std(x, n, ddof):
    """Standard deviation of the last n values with ``ddof`` (running sums of x and x^2)."""
    m = x.shape[0]
    out = np.full(m, NAN)
    s1 = 0.0
    s2 = 0.0
    nans = 0
    for i in range(m):
        v = x[i]
        if not np.isnan(v):
            s1 += v
            s2 += v * v
        else:
            nans += 1
        if i >= n - 1:
            if nans == 0:
                var = (s2 - s1 * s1 / n) / (n - ddof)
                out[i] = np.sqrt(var) if var > 0.0 else 0.0
            old = x[i - n + 1]
            if not np.isnan(old):
                s1 -= old
                s2 -= old * old
            else:
                nans -= 1
    return out


@kernel
def rolling_max(x, n):
    """Maximum of the last n values (NaN while a NaN is in the window)."""
    return _rolling_extreme(x, n, 1.0)


@kernel
def rolling_min(x, n):
    """Minimum of the last n values (NaN while a NaN is in the window)."""
    return _rolling_extreme(x, n, -1.0)


@kernel
def _rolling_extreme(x, n, sign):
    """van Herk / Gil-Werman: cut the series into blocks of n bars; a window ending inside
    block B is a suffix of block B-1 plus a prefix of B, so its extreme is
    max(suffix of B-1 from t-n+1, running prefix of B up to t): a fixed amount of work per bar
    whatever n is, with one n-long buffer. NaN while a NaN is in the window."""
    m = x.shape[0]
    out = nan_head(m, n - 1)
    if m < n:
        return out
    suffix = np.empty(n)
    last_nan = -1
    for i in range(n):
        if x[i] != x[i]:
            last_nan = i
    # block 0 (bars 0..n-1): only its last bar has a full window
    best = -np.inf
    for i in range(n - 1, -1, -1):
        v = sign * x[i]
        best = max(best, v)
        suffix[i] = best
    out[n - 1] = sign * best if last_nan < 0 else NAN
    for start in range(n, m, n):
        end = min(start + n, m)
        best = -np.inf
        for t in range(start, end):
            v = sign * x[t]
            if np.isnan(v):
                last_nan = t
            elif v > best:
                best = v
            j = t - start + 1  # window = suffix[j..n-1] of the previous block + prefix to t
            a = suffix[j] if j < n else -np.inf
            out[t] = sign * (max(best, a)) if last_nan <= t - n else NAN
        if end - start == n:
            best = -np.inf
            for i in range(end - 1, start - 1, -1):
                v = sign * x[i]
                best = max(best, v)
                suffix[i - start] = best
    return out


@fused_kernel
def ema_seeded(x, n, k, first):
    """TA-Lib's EMA: the value at bar ``first`` is the mean of x[first-n+1 .. first], then
    ema[t] = (x[t] - ema[t-1]) * k + ema[t-1]. Standalone EMA(n) has first = n - 1; MACD seeds
    its fast EMA at the slow EMA's first bar (TA-Lib's MACD quirk)."""
    m = x.shape[0]
    out = nan_head(m, first)
    if first >= m or first - n + 1 < 0:
        return out
    total = 0.0
    for i in range(first - n + 1, first + 1):
        total += x[i]
    prev = total / n
    out[first] = prev
    for i in range(first + 1, m):
        prev = (x[i] - prev) * k + prev
        out[i] = prev
    return out


@kernel
def ema(x, n):
    """TA-Lib EMA(n): k = 2 / (n + 1), seeded with the SMA of the first n bars."""
    return ema_seeded(x, n, 2.0 / (n + 1), n - 1)


@kernel
def true_range(high, low, close):
    """TA-Lib TRANGE: max(H - L, |H - C[t-1]|, |L - C[t-1]|) from the second bar."""
    m = close.shape[0]
    out = nan_head(m, 1)
    for i in range(1, m):
        out[i] = _tr(high[i], low[i], close[i - 1])
    return out


@kernel
def _tr(h, lo, prev_close):
    greatest = h - lo
    v2 = abs(prev_close - h)
    greatest = max(greatest, v2)
    v3 = abs(prev_close - lo)
    greatest = max(greatest, v3)
    return greatest


@fused_kernel
def wilder_atr(high, low, close, n):
    """TA-Lib ATR(n): the mean of the first n true ranges (bars 1..n), then Wilder's
    atr[t] = a TR[t] + b atr[t-1] with b = (n - 1) / n and a = 1 - b (TA-Lib 0.8's form:
    a + b is exactly 1 and no division sits in the recursion)."""
    m = close.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    total = 0.0
    for i in range(1, n + 1):
        total += _tr(high[i], low[i], close[i - 1])
    prev = total / n
    out[n] = prev
    beta = (n - 1) / n
    alpha = 1.0 - beta
    for i in range(n + 1, m):
        prev = alpha * _tr(high[i], low[i], close[i - 1]) + beta * prev
        out[i] = prev
    return out


@kernel
def ratio_minus_one(a, b):
    """a / b - 1 elementwise (NaN where either is NaN)."""
    m = a.shape[0]
    out = np.empty(m)
    for i in range(m):
        out[i] = a[i] / b[i] - 1.0
    return out


@kernel
def sign_of_difference(a, b):
    """sign(a - b) in {-1, 0, 1}; NaN where either is NaN."""
    m = a.shape[0]
    out = np.empty(m)
    for i in range(m):
        d = a[i] - b[i]
        if np.isnan(d):
            out[i] = NAN
        elif d > 0.0:
            out[i] = 1.0
        elif d < 0.0:
            out[i] = -1.0
        else:
            out[i] = 0.0
    return out
