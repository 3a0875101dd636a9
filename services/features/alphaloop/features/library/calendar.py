"""Calendar: day of week, day of month, month and the turn of the month (Lakonishok and Smidt
1988), from each bar's UTC calendar date. The turn of the month counts weekdays (Monday to
Friday, exchange holidays not removed), which are known in advance: no feature here looks at
the next bar, so all of them are point in time. Computed once per distinct timestamp of the
panel and broadcast to its rows."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import kernel

FAMILY = "calendar"
_NS_PER_DAY = 86_400_000_000_000
#: Bars within the first this many weekdays of a month are in the turn of the month.
TOM_FIRST_WEEKDAYS = 3


@kernel
def _civil(days):
    """(year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m, d


@kernel
def _days_in_month(y, m):
    if m == 2:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        return 29 if leap else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@kernel
def calendar_fields(ts):
    """Columns: day of week (Mon=0), day of month, month, weekdays of the month up to and
    including the date, weekdays of the month after the date."""
    n = ts.shape[0]
    out = np.empty((5, n))
    for i in range(n):
        days = ts[i] // _NS_PER_DAY
        dow = (days + 3) % 7  # 1970-01-01 was a Thursday
        y, m, d = _civil(days)
        dim = _days_in_month(y, m)
        before = 0
        w = (dow - (d - 1)) % 7  # weekday of the 1st
        for _ in range(d):
            if w < 5:
                before += 1
            w = (w + 1) % 7
        after = 0
        for _ in range(dim - d):
            if w < 5:
                after += 1
            w = (w + 1) % 7
        out[0, i] = dow
        out[1, i] = d
        out[2, i] = m
        out[3, i] = before
        out[4, i] = after
    return out


def _fields(panel) -> np.ndarray:
    """calendar_fields of the panel's distinct timestamps, built once per panel."""
    with panel.lock:
        table = getattr(panel, "_calendar", None)
        if table is None:
            table = panel._calendar = calendar_fields(np.ascontiguousarray(panel.dates))
    return table


def _column(i: int):
    return lambda p: _fields(p)[i][p.date_codes]


def _turn_of_month(p) -> np.ndarray:
    table = _fields(p)
    return ((table[3] <= TOM_FIRST_WEEKDAYS) | (table[4] == 0)).astype(np.float64)[p.date_codes]


_COMMON = {"family": FAMILY, "inputs": ("timestamp",), "warmup": 0, "kind": "panel"}


define("day_of_week", _column(0), **_COMMON,
       doc="Day of week of the bar's UTC date: (D + 3) mod 7 with D = floor(ts / 1 day) "
           "since 1970-01-01 (a Thursday), so Monday = 0 ... Sunday = 6.")
define("day_of_month", _column(1), **_COMMON,
       doc="Day of month of the bar's UTC date (civil calendar of floor(ts / 1 day)), 1..31.")
define("month", _column(2), **_COMMON,
       doc="Month of the bar's UTC date (civil calendar of floor(ts / 1 day)), 1..12.")
define("weekdays_to_month_end", _column(4), **_COMMON,
       doc="Weekdays left in the month after the bar's date: #{d' in (d, month end] : "
           "dow(d') < 5}; 0 on the month's last weekday.")
define("turn_of_month", _turn_of_month, **_COMMON,
       doc="Turn-of-the-month indicator: 1 when the date is the month's last weekday or one of "
           f"its first {TOM_FIRST_WEEKDAYS} weekdays (weekdays counted Mon-Fri from the 1st), "
           "else 0.")
