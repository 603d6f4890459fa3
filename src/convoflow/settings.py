"""All configuration, read once from ``CONVOFLOW_*`` environment variables.

A wrong value stops start-up with one line naming the setting (see :func:`load_settings`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from convoflow.encryption.cipher import MIN_SECRET_LENGTH
from convoflow.errors import InvalidArgument, SettingsError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./convoflow.db"
SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
#: Settings whose value must never be echoed in an error message.
_SECRET_SETTINGS = frozenset({"secret_key", "llm_api_key"})


class Settings(BaseSettings):
    """convoflow settings; every field maps to ``CONVOFLOW_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CONVOFLOW_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    whatsapp_api_base: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v25.0"
    whatsapp_access_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_business_account_id: str = ""
    whatsapp_app_secret: str = ""
    whatsapp_verify_token: str = ""
    whatsapp_max_mps: int = Field(default=80, ge=1, le=1000)
    whatsapp_allow_unsigned: bool = False
    whatsapp_mark_read: bool = True
    send_journal_dir: str | None = None
    session_store: Literal["sql", "redis"] = "sql"
    session_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics: bool = False
    end_action_secret: str = ""
    ready_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    default_owner: str = "admin"
    campaign_opt_out_words: str = "STOP,UNSUBSCRIBE"
    campaign_opt_in_words: str = "START"
    campaign_opt_out_confirmation: str = (
        "You will no longer receive our campaign messages. Send START to receive them again."
    )
    campaign_opt_in_confirmation: str = "You will receive our campaign messages again."
    template_sync_seconds: int = Field(default=3600, ge=0, le=7 * 86_400)
    secret_key: SecretStr = SecretStr("")
    # Sign-in (the web app): sessions slide with use, up to a hard limit; failures throttle.
    sign_in_idle_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 86_400)
    sign_in_max_age_seconds: int = Field(default=7 * 86_400, ge=60, le=365 * 86_400)
    sign_in_max_failures: int = Field(default=5, ge=1, le=1000)
    sign_in_max_failures_per_ip: int = Field(default=20, ge=1, le=10_000)
    sign_in_failure_window_seconds: int = Field(default=900, ge=1, le=86_400)
    secure_cookies: bool = False
    llm_base_url: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_model: str = ""
    llm_embedding_model: str = ""
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # A customer's messages arriving within this window go to the model together.
    llm_debounce_ms: int = Field(default=1500, ge=0, le=60_000)

    @field_validator("llm_base_url")
    @classmethod
    def _llm_http_base(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise InvalidArgument(
                "must be an http:// or https:// URL (e.g. http://127.0.0.1:11434/v1)"
            )
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if 0 < length < MIN_SECRET_LENGTH:
            raise InvalidArgument(
                f"must be at least {MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise InvalidArgument(
                f"must start with one of {', '.join(s + '://' for s in SUPPORTED_DATABASE_SCHEMES)}"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidArgument("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("whatsapp_api_base")
    @classmethod
    def _http_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise InvalidArgument("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def opt_out_words(self) -> list[str]:
        """The words that opt a contact out of campaigns (comma-separated setting)."""
        return [word.strip() for word in self.campaign_opt_out_words.split(",") if word.strip()]

    @property
    def opt_in_words(self) -> list[str]:
        """The words that opt an opted-out contact back in (comma-separated setting)."""
        return [word.strip() for word in self.campaign_opt_in_words.split(",") if word.strip()]

    @property
    def is_postgres(self) -> bool:
        """True when the database is PostgreSQL."""
        return self.database_url.startswith("postgresql")

    def check_consistency(self) -> None:
        """Refuse combinations that cannot work (raised as :class:`SettingsError`)."""
        if self.session_store == "redis" and not self.redis_url:
            raise SettingsError("CONVOFLOW_SESSION_STORE=redis needs CONVOFLOW_REDIS_URL to be set")


def load_settings() -> Settings:
    """Read and validate the settings, raising :class:`SettingsError` with one clear line."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        name = "CONVOFLOW_" + field.upper() if field else "CONVOFLOW_*"
        shown = "" if field in _SECRET_SETTINGS else f" (got {first.get('input')!r})"
        raise SettingsError(f"{name}: {first['msg']}{shown}") from None
    settings.check_consistency()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached); tests build their own :class:`Settings`."""
    return load_settings()
