"""The `alphaloop` command: --help everywhere, one-line errors, status against live servers."""

import os
import subprocess
import sys

import pytest

EXE = os.path.join(os.path.dirname(sys.executable), "alphaloop")
COMMANDS = ["serve", "run", "train", "grade", "hydrate", "status", "settings"]


def _cli(*args, env=None, timeout=120):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHALOOP_")}
    return subprocess.run([EXE, *args], env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_top_level_help_lists_every_command():
    out = _cli("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    out = _cli(command, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_settings_lists_each_variable_with_its_default():
    out = _cli("settings", "execution", env={"COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "ALPHALOOP_EXECUTION_RISK_ADDRESS" in out.stdout
    assert "127.0.0.1:50055" in out.stdout


def test_hydrate_with_unknown_source_is_one_clear_line(tmp_path):
    out = _cli("hydrate", "--source", "bloomberg", env={"ALPHALOOP_INGEST_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert "source: unknown source 'bloomberg'" in out.stderr
    assert "Traceback" not in out.stderr


def test_status_reports_store_and_a_down_service(tmp_path):
    env = {f"ALPHALOOP_{s.upper()}_GRPC_PORT": "1" for s in
           ("ingest", "features", "models", "grading", "risk", "execution")}
    env["ALPHALOOP_INGEST_STATE_DIR"] = str(tmp_path)
    env["COLUMNS"] = "200"
    out = _cli("status", "--timeout", "0.5", env=env)
    assert out.returncode == 0, out.stderr
    assert "bars" in out.stdout
    assert out.stdout.count("DOWN") == 6


def test_train_then_grade_use_the_configured_store_and_registry(tmp_path):
    # The CronJob path: hydrate, train, grade, all configured by environment only.
    env = {f"ALPHALOOP_{s}_STATE_DIR": str(tmp_path) for s in ("INGEST", "MODELS", "GRADING")}
    assert _cli("hydrate", env=env, timeout=300).returncode == 0
    trained = _cli("train", env=env, timeout=300)
    assert trained.returncode == 0, trained.stderr
    assert "registered alphaloop-pooled v1" in trained.stdout
    graded = _cli("grade", env={**env, "COLUMNS": "200"}, timeout=300)
    assert graded.returncode == 0, graded.stderr
    assert "alphaloop-pooled v1 ->" in graded.stdout
    assert (tmp_path / "mlflow.db").exists()


def test_train_without_hydrated_data_is_one_clear_line(tmp_path):
    out = _cli("train", env={"ALPHALOOP_MODELS_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert "run `alphaloop hydrate` first" in out.stderr
    assert "Traceback" not in out.stderr
