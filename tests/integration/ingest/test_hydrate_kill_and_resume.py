"""`alphaloop hydrate` killed with SIGKILL after its first checkpoints, then run again, leaves
exactly the store an uninterrupted run leaves; running a finished job again writes nothing."""

import json
import os
import subprocess
import sys

import duckdb
import pandas as pd

from alphaloop.ingest.sources import BytetheorySource

EXE = os.path.join(os.path.dirname(sys.executable), "alphaloop")
# 40 real symbols in batches of 4: ten checkpoints. Paced at 40 requests/s, the run takes about
# a second, so a kill after the second checkpoint lands mid-run.
SYMBOLS = sorted(BytetheorySource().symbols()["symbol"])[:40]
ARGS = ["hydrate", "--symbols", ",".join(SYMBOLS), "--end", "2010-08-20"]


def _env(db, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHALOOP_")}
    env.update({
        "ALPHALOOP_INGEST_STORE_URL": str(db),
        "ALPHALOOP_INGEST_BATCH_SIZE": "4",
        "ALPHALOOP_INGEST_LOG_FORMAT": "json",
        "COLUMNS": "160",
        **extra,
    })
    return env


def _hydrate(db, *extra_args, **env):
    out = subprocess.run([EXE, *ARGS, *extra_args], env=_env(db, **env), capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _table(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


BARS = "select * from bars order by symbol, interval, ts"
QUARANTINE = "select * from quarantined_bars order by symbol, interval, ts, rule"
REPORT = "select symbol, rule, count from quality_reports order by symbol, rule"


def _kill_after_checkpoints(db, checkpoints):
    proc = subprocess.Popen([EXE, *ARGS], env=_env(db, ALPHALOOP_INGEST_RATE_LIMIT_PER_SECOND="40"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = 0
    try:
        for line in proc.stderr:
            if line.startswith("{") and json.loads(line).get("msg") == "hydrate progress":
                seen += 1
                if seen == checkpoints:
                    proc.kill()  # SIGKILL: no handler runs, like a pod killed by the kubelet
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert seen == checkpoints, "the run ended before it could be killed"
    return proc.returncode


def test_killed_hydration_resumes_to_the_same_store_as_an_uninterrupted_run(tmp_path):
    resumed, reference = tmp_path / "resumed.duckdb", tmp_path / "reference.duckdb"

    assert _kill_after_checkpoints(resumed, checkpoints=2) == -9
    states = _table(resumed, "select batch, status from hydration_checkpoints where batch <> '_run'")
    done_before = int((states["status"] == "done").sum())
    assert 2 <= done_before < 10, states  # interrupted mid-run, with its first checkpoints kept

    second = _hydrate(resumed)
    events = [json.loads(x) for x in second.stderr.splitlines() if x.startswith("{")]
    start = next(e for e in events if e["msg"] == "hydrate start")
    assert start["batches_done"] == done_before and start["batches"] == 10
    assert sum(e["msg"] == "hydrate progress" for e in events) == 10 - done_before

    _hydrate(reference)

    for sql in (BARS, QUARANTINE, REPORT):
        pd.testing.assert_frame_equal(_table(resumed, sql), _table(reference, sql))
    bars = _table(reference, "select count(*) as n, count(distinct symbol) as s from bars")
    assert bars["s"].iat[0] == 40 and bars["n"].iat[0] > 9_000
    # One run id for the interrupted and the resumed halves: the report is the whole run's.
    assert _table(resumed, "select count(distinct run_id) as n from quality_reports")["n"].iat[0] == 1

    # A finished job run again writes nothing: no batch is redone, no bar is new.
    before = _table(resumed, BARS)
    third = _hydrate(resumed)
    finished = _table(resumed, "select details from audit_log where action = 'hydrate.finished' "
                               "order by id desc limit 1")
    details = json.loads(finished["details"].iat[0])
    assert details["batches_run"] == 0 and details["new_bars"] == 0
    pd.testing.assert_frame_equal(_table(resumed, BARS), before)
    assert "10 of 10" in third.stdout


def test_restart_redoes_every_batch_and_still_writes_no_new_bars(tmp_path):
    db = tmp_path / "store.duckdb"
    _hydrate(db, "--batch-size", "20")
    again = _hydrate(db, "--batch-size", "20", "--restart")
    events = [json.loads(x) for x in again.stderr.splitlines() if x.startswith("{")]
    assert next(e for e in events if e["msg"] == "hydrate start")["batches_done"] == 0
    finished = next(e for e in events if e["msg"] == "hydrate finished")
    assert finished["new_bars"] == 0 and finished["bars_good"] > 9_000
    runs = _table(db, "select count(distinct run_id) as n from quality_reports")["n"].iat[0]
    assert runs == 2  # a restart is a new run with its own report
