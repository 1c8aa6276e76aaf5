"""Settings come from CALMESH_* variables and .env, with the embedded default when unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from calmesh.config import Settings, load_settings
from calmesh.errors import ConfigurationError


def test_defaults_are_sqlite_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/calmesh/calmesh.db"
    assert settings.resolved_key_file == tmp_path / "calmesh" / "master.key"
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", 8000, "INFO")
    assert settings.resolved_public_base_url == "http://127.0.0.1:8000"


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CALMESH_PORT=9999\nCALMESH_LOG_LEVEL=debug\n")
    monkeypatch.setenv("CALMESH_DATABASE_URL", "postgresql://u@db:5432/calmesh")
    monkeypatch.setenv("CALMESH_PUBLIC_BASE_URL", "https://cal.example.com/")
    settings = load_settings()
    assert settings.port == 9999 and settings.log_level == "DEBUG"
    assert settings.resolved_database_url == "postgresql+asyncpg://u@db:5432/calmesh"
    assert settings.resolved_public_base_url == "https://cal.example.com"


def test_bad_settings_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALMESH_PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match="port"):
        load_settings()
    monkeypatch.delenv("CALMESH_PORT")
    with pytest.raises(ConfigurationError, match="CALMESH_DATABASE_URL"):
        _ = Settings(database_url="mysql://x", _env_file=None).resolved_database_url  # type: ignore[call-arg]


def test_the_master_key_never_shows_in_the_settings_repr() -> None:
    settings = Settings(master_key="c2VjcmV0LW1hc3Rlci1rZXktYnl0ZXMtMzItbG9uZyE=", _env_file=None)  # type: ignore[call-arg]
    assert "c2VjcmV0" not in repr(settings) and "c2VjcmV0" not in str(settings.model_dump())
