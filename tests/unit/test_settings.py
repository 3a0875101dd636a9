"""Settings: defaults need no configuration, bad values fail at start-up naming the variable."""

import pytest

from alphaloop.cli.app import service_module
from alphaloop.common.errors import SettingsError
from alphaloop.common.settings import SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_loads_embedded_defaults_with_no_environment(service, monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("ALPHALOOP_"):
            monkeypatch.delenv(key)
    settings = service_module(service).load()
    assert settings.bus_backend == "memory"
    assert settings.store_backend == "duckdb"
    assert settings.effective_store_url.endswith(".alphaloop/alphaloop.duckdb")
    assert settings.effective_grpc_port == 50051 + SERVICES.index(service)
    assert settings.effective_metrics_port == 9101 + SERVICES.index(service)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ALPHALOOP_RISK_BUS_BACKEND", "rabbitmq", "ALPHALOOP_RISK_BUS_BACKEND"),
        ("ALPHALOOP_RISK_STORE_BACKEND", "sqlite", "ALPHALOOP_RISK_STORE_BACKEND"),
        ("ALPHALOOP_RISK_GRPC_PORT", "70000", "ALPHALOOP_RISK_GRPC_PORT"),
        ("ALPHALOOP_RISK_METRICS_PORT", "-1", "ALPHALOOP_RISK_METRICS_PORT"),
        ("ALPHALOOP_RISK_GRPC_PORT", "fifty", "ALPHALOOP_RISK_GRPC_PORT"),
    ],
)
def test_bad_setting_fails_naming_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as err:
        service_module("risk").load()
    assert expected in str(err.value)
    assert repr(value) in str(err.value) or value in str(err.value)


@pytest.mark.parametrize(
    ("backend_var", "backend", "url"),
    [
        ("BUS", "redis", "redis://127.0.0.1:notaport/0"),
        ("BUS", "redis", "http://127.0.0.1:6379"),
        ("BUS", "kafka", "kafka://"),
        ("STORE", "postgres", "mysql://root@127.0.0.1/test"),
    ],
)
def test_malformed_backend_url_fails_naming_the_url_variable(monkeypatch, backend_var, backend, url):
    monkeypatch.setenv(f"ALPHALOOP_EXECUTION_{backend_var}_BACKEND", backend)
    monkeypatch.setenv(f"ALPHALOOP_EXECUTION_{backend_var}_URL", url)
    with pytest.raises(SettingsError) as err:
        service_module("execution").load()
    assert f"ALPHALOOP_EXECUTION_{backend_var}_URL" in str(err.value)


def test_settings_of_one_service_ignore_another_services_prefix(monkeypatch):
    monkeypatch.setenv("ALPHALOOP_RISK_GRPC_PORT", "6000")
    assert service_module("execution").load().effective_grpc_port == 50056
    assert service_module("risk").load().effective_grpc_port == 6000


def test_token_is_read_from_the_secret_file(tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("ALPHALOOP_RISK_AUTH_TOKEN_FILE", str(secret))
    assert service_module("risk").load().token() == "s3cret"


def test_missing_token_file_fails_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHALOOP_RISK_AUTH_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match="ALPHALOOP_RISK_AUTH_TOKEN_FILE"):
        service_module("risk").load().token()


@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_is_documented(service):
    rows = service_module(service, "config").Settings.describe()
    assert rows, "no settings described"
    for variable, _default, meaning in rows:
        assert variable.startswith(f"ALPHALOOP_{service.upper()}_")
        assert meaning.strip(), f"{variable} has no description"
