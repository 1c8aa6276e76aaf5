"""Settings, read from ``CALMESH_*`` environment variables and an optional ``.env`` file.

Nothing is read at import: :func:`load_settings` builds a :class:`Settings` when the server, the
CLI or a test asks for one, so tests can hand the app their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from calmesh.errors import ConfigurationError

__all__ = ["Settings", "default_data_dir", "load_settings"]

#: Request bodies above this many bytes get 413 (one MiB holds any sane API payload).
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


def default_data_dir() -> Path:
    """Where the embedded SQLite database and the key file live unless configured."""
    return Path(platformdirs.user_data_dir("calmesh", appauthor=False))


class Settings(BaseSettings):
    """Every setting calmesh reads. Each is ``CALMESH_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="CALMESH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    #: SQLAlchemy URL. ``sqlite:///…`` and ``postgresql://…`` are accepted as they are and given
    #: their async drivers. Default: a SQLite file in the user's data directory.
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: The address users and providers reach this server at (OAuth redirects, webhooks in).
    public_base_url: str | None = None
    #: The key-encryption-key file (created with 0600 permissions on first run).
    key_file: Path | None = None
    #: A base64 key-encryption key (32 bytes). When set, the key file is not used.
    master_key: SecretStr | None = None
    #: Earlier master keys, comma-separated, still accepted for reading until `keys rotate` ran.
    previous_master_keys: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_request_bytes: int = Field(default=DEFAULT_MAX_REQUEST_BYTES, ge=1024)
    #: Let connections (CalDAV servers, ICS feeds) point at private, loopback and link-local
    #: addresses. Off by default: a user-supplied URL must not reach the operator's own network.
    allow_private_network: bool = False
    #: The largest ICS feed calmesh downloads, in bytes.
    feed_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    #: Seconds a provider request may take before calmesh gives up on it.
    provider_timeout_seconds: float = Field(default=30.0, gt=0)
    #: A provider answering "slow down" or 5xx is asked again after about this many seconds,
    #: then twice as long each time (Google: five attempts), before the sync gives up for now.
    provider_retry_base_seconds: float = Field(default=1.0, gt=0, le=60)
    #: Run scheduled syncs inside ``calmesh serve`` (turn off when separate workers run them).
    embedded_worker: bool = True
    #: How often the embedded scheduler looks for connections due to sync, in seconds.
    scheduler_tick_seconds: float = Field(default=15.0, gt=0)
    #: How long a webhook receiver has to answer, in seconds (the whole exchange).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    #: The first retry of a failed webhook delivery waits about this long; each next one three
    #: times longer (at most 6 h), for at least 24 h.
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0)
    #: How many days announced events (and their delivery logs) are kept for listing and replay.
    webhook_event_retention_days: int = Field(default=30, ge=1)

    #: Google OAuth client of the operator's Google Cloud project (Google connections need it).
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    #: Google's addresses; point all three at ``calmesh sandbox`` to run without Google.
    google_accounts_url: str = "https://accounts.google.com"
    google_oauth_url: str = "https://oauth2.googleapis.com"
    google_api_url: str = "https://www.googleapis.com"
    #: Zoom OAuth app of the operator (Zoom connections need it) and the secret token of its
    #: webhook subscription (Zoom signs every event with it; url_validation answers with it).
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_webhook_secret_token: SecretStr | None = None
    #: Zoom's addresses (``/oauth/…`` and ``/v2/…`` below them); point both at ``calmesh sandbox``.
    zoom_oauth_url: str = "https://zoom.us"
    zoom_api_url: str = "https://api.zoom.us"
    #: How many meeting requests (create, update, delete) a Zoom user may make per UTC day
    #: (PRODUCT.md M5); calmesh refuses the next one itself, before Zoom would.
    zoom_daily_meeting_requests: int = Field(default=100, ge=1)
    #: How long a push channel (Google watch) is asked to live; it is renewed a day before it ends.
    push_channel_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def data_dir(self) -> Path:
        return default_data_dir()

    @property
    def resolved_database_url(self) -> str:
        """The database URL with its async driver named."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'calmesh.db'}"
        for plain, driver in (
            ("sqlite://", "sqlite+aiosqlite://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            return url
        raise ConfigurationError(
            "CALMESH_DATABASE_URL must be a sqlite:/// or postgresql:// URL"
        )

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "master.key"

    @property
    def resolved_public_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and ``.env``), with explicit overrides on top."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
