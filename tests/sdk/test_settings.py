"""The settings table: keyword, then environment, then default; bad values never raise; all documented."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from threadline._sdk.settings import SETTINGS, Settings, markdown_table, resolve

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def test_defaults() -> None:
    settings = resolve({}, environ={})
    assert settings == Settings()
    assert settings.traces_url == "http://127.0.0.1:4318/v1/traces"
    assert settings.turn_timeout == 1200.0
    assert settings.capture_content is True


def test_environment_threadline_first_then_otel() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_SERVICE_NAME": "otel-name",
        "THREADLINE_SERVICE_NAME": "tl-name",
        "THREADLINE_CAPTURE_CONTENT": "false",
        "THREADLINE_TURN_TIMEOUT": "90",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
    }
    settings = resolve({}, environ=environ)
    assert settings.traces_url == "http://collector:4318/v1/traces"
    assert settings.service_name == "tl-name"
    assert settings.capture_content is False
    assert settings.turn_timeout == 90.0
    assert settings.max_queue_size == 100
    assert settings.max_export_batch_size == 100  # never above the queue size


def test_an_explicit_endpoint_beats_a_traces_endpoint_from_the_environment() -> None:
    environ = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/custom/traces"}
    assert resolve({}, environ=environ).traces_url == "http://env:4318/custom/traces"
    assert resolve({"endpoint": "http://given:9000/"}, environ=environ).traces_url == "http://given:9000/v1/traces"
    explicit = {"endpoint": "http://given:9000", "traces_endpoint": "http://given:9000/otel"}
    assert resolve(explicit, environ=environ).traces_url == "http://given:9000/otel"


def test_bad_values_are_logged_and_replaced_by_defaults(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="threadline"):
        settings = resolve({"turn_timeout": "soon", "colour": "blue"}, environ={"THREADLINE_ENABLED": "maybe"})
    assert settings.turn_timeout == 1200.0
    assert settings.enabled is True
    text = caplog.text
    assert "turn_timeout='soon': expected a number" in text
    assert "enabled='maybe': use true or false (from THREADLINE_ENABLED)" in text
    assert "unknown settings ignored: colour" in text


def test_docs_embed_the_settings_table_and_name_every_setting() -> None:
    docs = DOCS.read_text()
    assert markdown_table() in docs, "docs/sdk.md is out of date: paste threadline._sdk.settings.markdown_table()"
    for setting in SETTINGS:
        assert f"`{setting.name}`" in docs
        for env in setting.env:
            assert f"`{env}`" in docs
