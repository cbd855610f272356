"""The store revision counts every bump, also under concurrent writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine

from server.db import unit_of_work
from server.store import bump_revision, current_revision


def test_concurrent_bumps_are_all_counted(engine: Engine) -> None:
    def bump(_: int) -> int:
        with unit_of_work(engine) as session:
            return bump_revision(session)

    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = sorted(pool.map(bump, range(20)))
    assert seen == list(range(1, 21))
    with unit_of_work(engine, write=False) as session:
        assert current_revision(session) == 20
