"""Run Alembic from code: ``readingroom db`` and ``serve`` call these.

``ensure_current`` reads the database's revision with one query and loads Alembic only when
the schema is behind, so commands on a current database start quickly.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
_REVISION = re.compile(r"^revision: str = ['\"](\w+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision: str \| None = ['\"]?(\w+)['\"]?", re.MULTILINE)
QUEUE_PREFIX = "procrastinate_"  # the witness job queue's objects (PostgreSQL), not models


def is_model_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object``: what the models describe, not the search index's or the
    job queue's own objects."""
    from server.search.index import is_model_object as is_search_model_object

    if name and name.startswith(QUEUE_PREFIX):
        return False
    return is_search_model_object(obj, name, type_, reflected, compare_to)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def _run(engine: Engine, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(value) if value is not None else None


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision in alembic/versions: the one no other revision builds on."""
    revisions, parents = set(), set()
    for path in ALEMBIC_DIR.glob("versions/*.py"):
        source = path.read_text(encoding="utf-8")
        if found := _REVISION.search(source):
            revisions.add(found.group(1))
        if down := _DOWN.search(source):
            parents.add(down.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"alembic/versions must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def ensure_current(engine: Engine) -> None:
    """Upgrade to head unless the database is already there."""
    if current_revision(engine) != head_revision():
        upgrade(engine)
