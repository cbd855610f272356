"""All settings in one place (environment prefix ``READINGROOM_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_FILE = "readingroom.db"


def bundled_content_dir() -> Path:
    """The ``content/`` tree next to the package (a source checkout or editable install)."""
    return Path(__file__).resolve().parent.parent / "content"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="READINGROOM_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_DATABASE_FILE}"
    content_dir: Path = bundled_content_dir()
    site_name: str = "Continuous Function"
    host: str = "127.0.0.1"
    port: int = 8000
    mode: Literal["local", "team"] = "local"
    # Team mode: how long a page session (the login cookie) lasts.
    session_hours: float = 336.0
    # Witness sandbox: wall time per run and whether unconfined runs are allowed.
    witness_timeout_s: float = 10.0
    unsafe_unconfined_witnesses: bool = False
    prompt_budget_chars: int = 12_000
    ingest_on_start: bool = True
    check_witnesses_on_start: bool = True
