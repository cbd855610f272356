"""Build the prompt for a key: resolve it, gather (or reuse) its evidence, build, render."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from server.config import Settings
from server.models import Note
from server.objects.resolve import resolve_key
from server.tutor.builder import build_prompt
from server.tutor.cache import evidence_for, prompt_for, snapshot
from server.tutor.evidence import selected
from server.tutor.formats import render, render_markdown
from server.tutor.prompt import Format, LearnerNote, Mode, Prompt

LOCAL_LEARNER = "local"


def learner_for(settings: Settings) -> str | None:
    """Whose note a prompt may show: the one local learner in local mode."""
    return LOCAL_LEARNER if settings.mode == "local" else None


NOTE = select(col(Note.text), col(Note.next_action), col(Note.version)).where(
    col(Note.learner) == bindparam("learner"), col(Note.object_key) == bindparam("key")
)


def learner_note(session: Session, learner: str, key: str) -> LearnerNote | None:
    """``learner``'s own note on ``key`` (never anyone else's)."""
    row = session.execute(NOTE, {"learner": learner, "key": key}).first()
    if row is None or not (row.text.strip() or row.next_action.strip()):
        return None
    return LearnerNote(key, row.text, row.next_action, row.version)


def build_for_key(
    session: Session,
    settings: Settings,
    key: str,
    *,
    mode: Mode = "grounded",
    fmt: Format = "text",
    question: str | None = None,
    evidence: list[str] | None = None,
    learner: str | None = None,
) -> Prompt:
    """The prompt for ``key``: aliases raise Moved, tombstones Gone, unknown keys NotFound;
    unusable ``evidence`` keys raise InvalidInput naming each of them."""
    shot = snapshot(session)
    if shot.registry.entries.get(key, ("", None))[0] != "active":
        key = resolve_key(session, key)  # raises the reason it is not active
    gathered = evidence_for(session, shot, key)
    chosen = selected(session, shot.registry, evidence) if evidence else None
    note = learner_note(session, learner, key) if learner and mode == "grounded" else None
    markdown = fmt == "markdown"
    budget = settings.prompt_budget_chars
    signature = (key, mode, markdown, question, tuple(evidence or ()), note, settings.site_name,
                 budget)  # fmt: skip

    def build() -> Prompt:
        return build_prompt(
            gathered,
            site_name=settings.site_name,
            mode=mode,
            question=question,
            chosen=chosen,
            note=note,
            budget_chars=budget,
            measure=(lambda p: len(render_markdown(p))) if markdown else None,
        )

    return prompt_for(shot, signature, build)


def prompt_for_key(
    session: Session,
    settings: Settings,
    key: str,
    *,
    mode: Mode = "grounded",
    fmt: Format = "text",
    question: str | None = None,
    evidence: list[str] | None = None,
    learner: str | None = None,
) -> str | dict[str, Any]:
    """The rendered prompt: text or Markdown as a string, JSON as a dict."""
    prompt = build_for_key(
        session, settings, key, mode=mode, fmt=fmt, question=question, evidence=evidence,
        learner=learner,
    )  # fmt: skip
    return render(prompt, fmt)
