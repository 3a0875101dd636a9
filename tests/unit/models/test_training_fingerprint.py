"""The data fingerprint: sha256 of a canonical binary form, independent of row order and extra
columns, sensitive to any price change."""

import hashlib
import struct

import numpy as np
import pandas as pd
import pytest

from alphaloop.common.errors import InvalidInputError
from alphaloop.models.fingerprint import canonical_bytes, fingerprint


def _bars():
    return pd.DataFrame({
        "symbol": ["MSFT", "AAPL", "AAPL"],
        "ts": pd.to_datetime(["2010-01-04", "2010-01-05", "2010-01-04"], utc=True),
        "open": [30.62, 30.66, 30.49], "high": [31.1, 30.8, 30.64],
        "low": [30.59, 30.46, 30.34], "close": [30.95, 30.63, 30.57],
        "volume": [38409100, 150476200, 123432400],
        "source": ["x", "y", "z"],
    })


def _block(symbol, rows):
    """One symbol's documented block, packed by hand with struct (little-endian)."""
    n = len(rows)
    out = symbol.encode() + b"\0" + struct.pack("<Q", n)
    out += struct.pack(f"<{n}q", *(r[0] for r in rows))
    for k in range(1, 6):
        out += struct.pack(f"<{n}d", *(float(r[k]) for r in rows))
    return out


def test_hash_is_sha256_of_the_documented_canonical_bytes():
    by_hand = (
        _block("AAPL", [(1262563200000000000, 30.49, 30.64, 30.34, 30.57, 123432400),
                        (1262649600000000000, 30.66, 30.8, 30.46, 30.63, 150476200)])
        + _block("MSFT", [(1262563200000000000, 30.62, 31.1, 30.59, 30.95, 38409100)])
    )
    fp = fingerprint(_bars())
    assert fp.sha256 == hashlib.sha256(b"alphaloop-bars-v2\n" + by_hand).hexdigest()
    assert canonical_bytes(_bars()) == by_hand
    assert (fp.first_ts, fp.last_ts) == ("2010-01-04T00:00:00+00:00", "2010-01-05T00:00:00+00:00")
    assert (fp.n_symbols, fp.n_bars) == (2, 3)


def test_missing_values_hash_as_one_nan_and_missing_columns_as_nan():
    bars = _bars().astype({"volume": float})
    bars.loc[0, "volume"] = -np.nan  # a NaN with the sign bit set
    dropped = bars.drop(columns="volume")
    assert fingerprint(bars.assign(volume=np.nan)) == fingerprint(dropped)
    assert fingerprint(bars).sha256 != fingerprint(_bars()).sha256
    nan = struct.pack("<d", float("nan"))
    assert nan in canonical_bytes(bars)


def test_row_order_index_extra_columns_and_column_names_do_not_matter():
    bars = _bars()
    shuffled = bars.sample(frac=1.0, random_state=3).set_index(pd.Index([7, 8, 9]))
    renamed = shuffled.drop(columns="source").rename(columns={"ts": "timestamp"})
    renamed["timestamp"] = renamed["timestamp"].dt.tz_convert("America/New_York")
    assert fingerprint(renamed) == fingerprint(bars)


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
def test_any_value_change_changes_the_hash(column):
    bars = _bars()
    changed = bars.astype({column: float})
    changed.loc[1, column] = np.nextafter(float(changed.loc[1, column]), np.inf)
    assert fingerprint(changed).sha256 != fingerprint(bars).sha256


def test_dropping_a_bar_changes_hash_and_counts():
    bars = _bars()
    fp = fingerprint(bars.iloc[:2])
    assert fp.sha256 != fingerprint(bars).sha256
    assert fp.n_bars == 2


def test_bars_without_a_time_column_are_rejected():
    with pytest.raises(InvalidInputError):
        fingerprint(_bars().drop(columns="ts"))
