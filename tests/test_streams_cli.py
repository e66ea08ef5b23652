"""``hotline streams worker``: what each child of ``--workers N`` is started with, and the
thresholds read from ``HOTLINE_STREAMS__…`` variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hotline.errors import ConfigurationError
from hotline.streams.cli import child_argv
from hotline.streams.config import CenterHours, streams_config_from_env


@pytest.mark.parametrize(
    "argv",
    [
        ["streams", "worker", "--workers", "2", "--replay"],
        ["streams", "worker", "--workers=2", "--replay"],
        ["streams", "worker", "--replay", "--workers", "2", "--datadir", "/data/w"],
        ["streams", "worker", "--datadir=/data/w", "--replay", "--workers=2"],
    ],
)
def test_each_child_is_one_worker_with_its_own_data_dir(argv: list[str]) -> None:
    datadir = Path("/data/w") if any("/data/w" in a for a in argv) else Path(".hotline/streams")
    child = child_argv(argv, 1, datadir, None)
    assert child == [
        "streams",
        "worker",
        "--replay",
        "--workers",
        "1",
        "--datadir",
        f"{datadir}-1",
    ]


def test_each_child_writes_its_own_status_file() -> None:
    argv = ["streams", "worker", "--status-file", "/run/status.json", "--workers", "3"]
    child = child_argv(argv, 2, Path(".hotline/streams"), Path("/run/status.json"))
    assert child[-2:] == ["--status-file", "/run/status-2.json"]
    assert child.count("--status-file") == 1 and "3" not in child


def test_thresholds_and_horizons_come_from_hotline_streams_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTLINE_STREAMS__SERVICE_LEVEL_MS", "20000")
    monkeypatch.setenv("HOTLINE_STREAMS__LATENESS", "PT30M")
    monkeypatch.setenv("HOTLINE_STREAMS__MAX_AGENT_STATE", "PT8H")
    monkeypatch.setenv(
        "HOTLINE_STREAMS__ALERTS__PROVINCE_RATES", '{"320000": {"connection": 0.85}}'
    )
    monkeypatch.setenv(
        "HOTLINE_STREAMS__ALERTS__SERVICE_HOURS",
        '{"320000": {"hours": "08:30-17:30"}, '
        '"C320100": {"hours": "00:00-24:00", "days": "every"}}',
    )
    config = streams_config_from_env()
    assert config.alerts.hours_of("320000", ["C320100", "C320200"]) == {
        "C320100": CenterHours(hours="00:00-24:00", days="every"),
        "C320200": CenterHours(hours="08:30-17:30"),
    }
    assert config.service_level_ms == 20_000 and config.short_abandon_ms == 5_000
    assert config.lateness == timedelta(minutes=30)
    assert config.max_agent_state == timedelta(hours=8)
    assert config.alerts.rates_of("320000").connection == 0.85
    assert config.alerts.rates_of("330000") == config.alerts.rates


def test_a_province_override_takes_what_it_does_not_set_from_rates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTLINE_STREAMS__ALERTS__RATES__SERVICE_LEVEL", "0.70")
    monkeypatch.setenv(
        "HOTLINE_STREAMS__ALERTS__PROVINCE_RATES",
        '{"320000": {"connection": 0.85}, "330000": {"service_level": 0.6}}',
    )
    alerts = streams_config_from_env().alerts
    assert alerts.rates.connection == 0.90  # the default
    assert alerts.rates_of("320000").model_dump() == {"connection": 0.85, "service_level": 0.70}
    assert alerts.rates_of("330000").model_dump() == {"connection": 0.90, "service_level": 0.6}


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("HOTLINE_STREAMS__SERVICE_LEVEL_MS", "30s", "valid integer"),
        # every call record carries it, and the warehouse keeps it as UInt32
        ("HOTLINE_STREAMS__SERVICE_LEVEL_MS", str(2**32), "less than or equal to 4294967295"),
        ("HOTLINE_STREAMS__ALERTS__RATES__CONNECTION", "90", "less than or equal to 1"),
        ("HOTLINE_STREAMS__MAX_AGENT_STATE", "PT0S", "greater than 0 seconds"),
        ("HOTLINE_STREAMS__SERVICE_LEVEL", "30000", "Extra inputs are not permitted"),
        # a province_rates key is a province code of the region registry, else never applies
        ("HOTLINE_STREAMS__ALERTS__PROVINCE_RATES", '{"32000": {}}', "unknown province 32000"),
        ("HOTLINE_STREAMS__ALERTS__PROVINCE_RATES", '{"320100": {}}', "320100 is .*a city"),
        ("HOTLINE_STREAMS__ALERTS__PROVINCE_RATES", '{"Jiangsu": {}}', "province Jiangsu"),
        # a service_hours key is a center id or a province code; its hours are HH:MM-HH:MM
        (
            "HOTLINE_STREAMS__ALERTS__SERVICE_HOURS",
            '{"C32010": {"hours": "08:30-17:30"}}',
            "unknown center C32010",
        ),
        (
            "HOTLINE_STREAMS__ALERTS__SERVICE_HOURS",
            '{"320000": {"hours": "08:30-25:00"}}',
            "within 00:00-24:00",
        ),
    ],
)
def test_a_wrong_streams_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=rf"{name}\S*: .*{problem}"):
        streams_config_from_env()


@pytest.mark.parametrize(("host", "bound"), [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")])
def test_faust_web_server_binds_this_machine_unless_told(
    tmp_path: Path, host: str | None, bound: str
) -> None:
    """``--web-port``'s views show the state table: bound to loopback, not Faust's 0.0.0.0."""
    from hotline.streams.app import Worker
    from hotline.streams.worker_config import WorkerConfig

    more = {} if host is None else {"web_host": host}
    worker = Worker(WorkerConfig(app_id="t-web", web_port=6099, datadir=tmp_path, **more))
    assert worker.app.conf.web_enabled
    assert worker.app.conf.web_bind == bound
