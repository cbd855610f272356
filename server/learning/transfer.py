"""Learned and starred marks in the notes export: records, and their import.

Marks travel with the notes (``readingroom notes export`` / ``import``). On import the newer
side wins, by ``updated_at``: a mark the store changed after the file was written is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from server.errors import ReadingRoomError
from server.keys import parse_key
from server.models import LearnerProgress
from server.store import bump_revision

MarkOutcome = Literal["created", "updated", "unchanged", "kept"]


class ProgressRecord(BaseModel):
    """One concept's marks, under the key they were written on."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=400)
    learned: bool
    starred: bool
    updated_at: datetime

    @field_validator("key")
    @classmethod
    def _is_a_concept_key(cls, key: str) -> str:
        try:
            kind = parse_key(key).kind
        except ReadingRoomError as error:
            raise ValueError(error.message) from None
        if kind != "concept":
            raise ValueError(f"marks are kept on concepts, not on '{key}'")
        return key

    @field_validator("updated_at")
    @classmethod
    def _has_a_zone(cls, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("a timestamp needs its time zone (e.g. 2026-12-01T10:00:00Z)")
        return moment


def progress_of(session: Session, learner: str) -> list[ProgressRecord]:
    rows = session.exec(
        select(LearnerProgress)
        .where(col(LearnerProgress.learner) == learner)
        .order_by(col(LearnerProgress.concept_key))
    )
    return [
        ProgressRecord(key=r.concept_key, learned=r.learned, starred=r.starred,
                       updated_at=r.updated_at)
        for r in rows
    ]  # fmt: skip


def import_progress(
    session: Session, learner: str, records: list[ProgressRecord]
) -> list[tuple[str, MarkOutcome]]:
    outcomes: list[tuple[str, MarkOutcome]] = []
    for record in records:
        row = session.exec(
            select(LearnerProgress).where(
                col(LearnerProgress.learner) == learner,
                col(LearnerProgress.concept_key) == record.key,
            )
        ).first()
        if row is None:
            session.add(LearnerProgress(
                learner=learner, concept_key=record.key, learned=record.learned,
                starred=record.starred, updated_at=record.updated_at,
            ))  # fmt: skip
            outcomes.append((record.key, "created"))
        elif (row.learned, row.starred) == (record.learned, record.starred):
            outcomes.append((record.key, "unchanged"))
        elif record.updated_at > row.updated_at:
            row.learned, row.starred, row.updated_at = (
                record.learned, record.starred, record.updated_at,
            )  # fmt: skip
            session.add(row)
            outcomes.append((record.key, "updated"))
        else:
            outcomes.append((record.key, "kept"))
    if any(outcome in ("created", "updated") for _, outcome in outcomes):
        bump_revision(session)  # marks show on cached pages
    session.flush()
    return outcomes
