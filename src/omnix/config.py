"""Settings from OMNIX_* environment variables (and CLI flags that override them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnix.domain.consent import DefaultConsent, default_granted
from omnix.domain.errors import ConfigError
from omnix.domain.ingest import AnonymousPolicy

STORE_FILE = "omnix.duckdb"
# The development default of OMNIX_SECRET_KEY: refused outside development (check_secrets).
DEV_SECRET = "omnix-development-secret-change-me"
MIN_SECRET_CHARS = 32
Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """Runtime configuration. Example: OMNIX_DATA_DIR=/srv/omnix OMNIX_TIMEZONE=Europe/Berlin."""

    model_config = SettingsConfigDict(env_prefix="OMNIX_", extra="ignore")

    data_dir: Path = Field(default=Path("omnix-data"), description="where the store lives")
    warehouse_url: str | None = Field(
        default=None,
        description="duckdb://path or postgresql://user@host:5432/db "
        "(default: duckdb://<data_dir>/omnix.duckdb)",
    )
    database_url: str | None = Field(
        default=None, description="another name for warehouse_url (postgresql://...)"
    )
    timezone: str = Field(default="UTC", description="how naive timestamps are read")
    anonymous_policy: AnonymousPolicy = AnonymousPolicy.KEEP
    memory_limit: str = Field(default="1GB", description="DuckDB memory limit; it spills beyond")
    keep_freed_memory: bool = Field(
        default=True,
        description="CLI commands (not serve/demo) reuse the memory they free instead of "
        "returning it to the kernel (adapters/memory.py)",
    )
    threads: int | None = None
    segment_rules: Path | None = Field(
        default=None, description="TOML/JSON file with the RFM segment rule table (omnix segments)"
    )
    default_consent: DefaultConsent = Field(
        default=DefaultConsent.DENIED,
        description="consent of customers without a record (granted|denied; denied in EU mode)",
    )
    eu_mode: bool = Field(default=False, description="refuse a granted default consent")
    retailer_name: str | None = Field(
        default=None, description="brands named like the retailer count as private label"
    )
    private_labels: str = Field(
        default="", description="comma-separated private-label brand names (prefix match)"
    )
    log_level: str = "WARNING"
    log_format: Literal["console", "json"] = "console"

    # ---- running as a service (omnix serve); see docs/security.md
    env: Environment = Field(default="development", description="development | test | production")
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="keys the API-key hashes and the erasure audit hashes (>= 32 characters; "
        "changing it invalidates every API key)",
    )
    pseudonymize_key: SecretStr | None = Field(
        default=None,
        description="when set, source customer ids are replaced at ingest by HMAC-SHA256(key, id)",
    )
    api_rate_per_second: float = Field(default=50.0, gt=0, description="per API key")
    api_rate_burst: int = Field(default=200, ge=1, description="requests a key may burst")
    api_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="JSON bodies")
    api_max_upload_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1024, description="POST /v1/ingest/files"
    )
    api_cors_origins: str = Field(
        default="", description="comma-separated origins allowed by CORS (empty: CORS off)"
    )
    model_quality_file: Path | None = Field(
        default=None,
        description="backtest results (benchmarks/results/backtest.json shape) for /metrics "
        "when the store has no `omnix backtest` run",
    )
    cache_url: str | None = Field(
        default=None,
        description="redis://host:6379/0[?prefix=omnix:] shares hot views and rate limits "
        "between API processes (default: in each process)",
    )
    api_workers: int = Field(
        default=1, ge=1, description="API processes serving the store (set by omnix serve)"
    )
    api_threads: int | None = Field(
        default=None,
        ge=1,
        description="request threads per API process (default 40; 16 on PostgreSQL, where "
        "each thread holds a connection)",
    )
    api_cache_entries: int = Field(default=100_000, ge=0, description="hot customer views")
    api_cache_seconds: float = Field(default=300.0, ge=0, description="their time to live")

    def check_secrets(self) -> None:
        """Refuse the development secret (or a short one) outside development. The default
        is public (it is in the source): with it, anyone holding a copy of the store could
        test guessed customer ids against the erasure audit hashes."""
        if self.env == "development":
            return
        secret = self.secret_key.get_secret_value()
        if secret == DEV_SECRET or len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"OMNIX_ENV={self.env} needs OMNIX_SECRET_KEY: a random value of at least "
                f"{MIN_SECRET_CHARS} characters (e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'), not the development default"
            )
        pseudo = self.pseudonymize_key
        if pseudo is not None and len(pseudo.get_secret_value()) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"OMNIX_PSEUDONYMIZE_KEY must be at least {MIN_SECRET_CHARS} characters"
            )

    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.api_cors_origins.split(",") if o.strip()]

    def profiling_default(self, override: str | None = None) -> bool:
        """Whether customers without a consent record may be profiled (ConfigError when EU
        mode meets a granted default). `override`: a CLI flag's value."""
        return default_granted(override or self.default_consent, self.eu_mode)

    def private_label_names(self) -> tuple[str, ...]:
        """Private-label brand names: OMNIX_PRIVATE_LABELS plus the retailer's own name."""
        names = [n.strip() for n in self.private_labels.split(",") if n.strip()]
        if self.retailer_name:
            names.append(self.retailer_name.strip())
        return tuple(dict.fromkeys(names))

    def store_url(self) -> str:
        """The store's URL: OMNIX_WAREHOUSE_URL or OMNIX_DATABASE_URL, else the DuckDB file
        in the data directory."""
        both = self.warehouse_url and self.database_url
        if both and self.warehouse_url != self.database_url:
            raise ConfigError(
                "OMNIX_WAREHOUSE_URL and OMNIX_DATABASE_URL name different stores: set one"
            )
        return self.warehouse_url or self.database_url or f"duckdb://{self.data_dir / STORE_FILE}"

    def store_label(self) -> str:
        """The store's URL for people to read: a password in it is replaced by ***."""
        url = self.store_url()
        scheme, sep, rest = url.partition("://")
        creds, at, host = rest.rpartition("@")
        if not at or ":" not in creds:
            return url
        return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"

    def embedded(self) -> bool:
        """Whether the store is the embedded DuckDB file (one process)."""
        return self.store_url().startswith("duckdb:")
