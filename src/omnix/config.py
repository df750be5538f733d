"""Settings from OMNIX_* environment variables (and CLI flags that override them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    log_level: str = "WARNING"
    log_format: Literal["console", "json"] = "console"

    def store_url(self) -> str:
        return self.warehouse_url or f"duckdb://{self.data_dir / STORE_FILE}"
