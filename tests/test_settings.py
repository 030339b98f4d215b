"""Settings: bad values stop the process with one line naming the setting."""

from pathlib import Path

import pytest

from postline.errors import ConfigError
from postline.settings import load_settings


def test_a_route_without_a_port_names_the_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTLINE_SMTP_ROUTES", '{"example.com": "nowhere"}')

    with pytest.raises(
        ConfigError, match=r"route for example\.com: expected host:port"
    ):
        load_settings()


def test_routes_that_are_not_json_name_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTLINE_SMTP_ROUTES", "notjson")

    with pytest.raises(ConfigError, match='"smtp_routes"'):
        load_settings()


def test_a_config_file_is_read_and_variables_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "postline.yaml"
    config.write_text("hostname: file.example.com\nspool_dir: /srv/spool\n")
    monkeypatch.setenv("POSTLINE_CONFIG", str(config))
    monkeypatch.setenv("POSTLINE_HOSTNAME", "env.example.com")

    settings = load_settings()

    assert settings.hostname == "env.example.com"
    assert str(settings.spool_dir) == "/srv/spool"


def test_an_unknown_key_in_the_config_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "postline.yaml"
    config.write_text("hostnme: typo.example.com\n")
    monkeypatch.setenv("POSTLINE_CONFIG", str(config))

    with pytest.raises(ConfigError, match="hostnme"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POSTLINE_CAMPAIGN_BATCH_SIZE", "0"),
        ("POSTLINE_REGISTRAR_BATCH_SIZE", "-1"),
        ("POSTLINE_SMTP_COMMAND_TIMEOUT", "0"),
        ("POSTLINE_SMTP_ROUTES", '{"example.com": "127.0.0.1:99999"}'),
    ],
)
def test_values_that_cannot_work_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable.removeprefix("POSTLINE_").lower()):
        load_settings()
