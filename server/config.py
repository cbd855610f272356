"""All settings in one place (environment prefix ``READINGROOM_``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
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
    # Admission: requests served at once (more answer 503), witness runs at once and waiting.
    max_concurrent_requests: int = Field(default=0, ge=0)  # 0: eight per core
    witness_workers: int = Field(default=0, ge=0)  # 0: one per core
    witness_queue_backlog: int = Field(default=48, ge=0)
    # The start-up check: at most this many of its runs at once, at the lowest CPU priority.
    witness_background_workers: int = Field(default=1, ge=1)
    # PostgreSQL: checks of stored witnesses are jobs in the database, taken by any host's
    # `readingroom worker`; a server also takes this many at once itself (0: leave them all
    # to workers). SQLite has no job queue: runs stay in the process that asks for them.
    serve_job_workers: int = Field(default=1, ge=0)
    # Slow clients: request headers, request bodies, idle keep-alive connections.
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=30.0, gt=0)
    keep_alive_timeout_s: int = Field(default=5, ge=1)
    # Answers smaller than this are sent uncompressed (gzip would not pay for its header).
    compress_min_bytes: int = Field(default=1024, ge=0)
    # One log line per request costs a write on the hot path: off unless asked for.
    access_log: bool = False
    # The HTTP/1.1 parser `serve` uses; both keep the header deadline above.
    http_parser: Literal["httptools", "h11"] = "httptools"
    # Host names accepted besides localhost, 127.0.0.1 and [::1] (comma-separated).
    allowed_hosts: str = ""
    # Team mode behind a proxy that terminates TLS: the server itself speaks plain HTTP.
    behind_https_proxy: bool = False
    # The graph page: Graphviz ``dot`` (the Debian package graphviz), its time limit, and the
    # most concepts one drawing may hold (a larger graph answers 422: draw a focused view).
    graphviz_dot: str = "dot"
    graphviz_timeout_s: float = Field(default=10.0, gt=0)
    graph_max_nodes: int = Field(default=400, ge=1)
    # Assembled pages and prompts: how often the store revision is read again (writes by
    # other workers show within it), and how many answers are kept (least recently used go).
    page_cache_poll_s: float = Field(default=1.0, ge=0)
    page_cache_entries: int = Field(default=2048, ge=1)

    def admitted_requests(self) -> int:
        return self.max_concurrent_requests or 8 * max(1, os.cpu_count() or 1)

    def allowed_host_names(self) -> frozenset[str]:
        names = (name.strip().lower() for name in self.allowed_hosts.split(","))
        return frozenset(name for name in names if name)
