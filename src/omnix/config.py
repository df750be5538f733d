"""Settings from OMNIX_* environment variables (and CLI flags that override them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnix.domain.consent import DefaultConsent, default_granted
from omnix.domain.ingest import AnonymousPolicy

STORE_FILE = "omnix.duckdb"


class Settings(BaseSettings):
    """Runtime configuration. Example: OMNIX_DATA_DIR=/srv/omnix OMNIX_TIMEZONE=Europe/Berlin."""

    model_config = SettingsConfigDict(env_prefix="OMNIX_", extra="ignore")

    data_dir: Path = Field(default=Path("omnix-data"), description="where the store lives")
    warehouse_url: str | None = Field(
        default=None, description="duckdb://path (default: duckdb://<data_dir>/omnix.duckdb)"
    )
    timezone: str = Field(default="UTC", description="how naive timestamps are read")
    anonymous_policy: AnonymousPolicy = AnonymousPolicy.KEEP
    memory_limit: str = Field(default="1GB", description="DuckDB memory limit; it spills beyond")
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
        return self.warehouse_url or f"duckdb://{self.data_dir / STORE_FILE}"
