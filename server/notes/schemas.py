"""The note shapes of the API (DESIGN.md §11): what a write sends, what every answer carries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_TEXT = 20_000
MAX_NEXT_ACTION = 1_000
MAX_CHECKLIST_ITEMS = 100
MAX_CHECKLIST_ITEM = 500
MAX_PAGE = 200

ChecklistItem = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CHECKLIST_ITEM)]
Checklist = Annotated[dict[ChecklistItem, bool], Field(max_length=MAX_CHECKLIST_ITEMS)]
ObjectStatus = Literal["active", "renamed", "removed", "unknown"]


class NoteWrite(BaseModel):
    """``PUT /api/notes/{key}``: ``version`` omitted or null creates; the current one updates."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=MAX_TEXT, description="Markdown.")
    next_action: str = Field(default="", max_length=MAX_NEXT_ACTION)
    checklist: Checklist = Field(
        default_factory=dict, description="Checklist items, each mapped to whether it is done."
    )
    version: int | None = Field(
        default=None, ge=1, description="Omit or null to create; the current version to update."
    )


class NoteObject(BaseModel):
    """Where the note's object stands: active, renamed (to ``current_key``), removed
    (with the tombstone's ``reason``) or unknown to the store."""

    status: ObjectStatus
    current_key: str | None = None
    reason: str | None = None


class NoteOut(BaseModel):
    key: str
    kind: str
    text: str
    text_html: str = Field(description="The text as safe HTML (raw HTML off, links allow-listed).")
    next_action: str
    checklist: dict[str, bool]
    version: int
    created_at: datetime
    updated_at: datetime
    object: NoteObject
    followed_alias: str | None = Field(
        default=None, description="The old key this request named, when it was an alias."
    )


class NoteList(BaseModel):
    data: list[NoteOut]
    count: int = Field(description="How many notes match, across every page.")
    next: str | None = Field(description="The cursor of the next page, or null on the last.")
