"""What the concept page template is given, read in the caller's session."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session

from server.claims.schemas import REVIEW_VERDICTS
from server.concepts import service
from server.learning.pages import marks
from server.models import STANCES
from server.pages.cite import cite_block
from server.pages.learning_map import learning_map
from server.pages.render import render_concept_sections
from server.people.reader import can_review, reader


def concept_values(request: Request, session: Session, context: str, slug: str) -> dict[str, Any]:
    page: dict[str, Any] = service.concept_page(session, context, slug)
    person = reader(request, session)
    learner = person.name if person is not None else None
    return {
        "page": page,
        "sections": render_concept_sections(page),
        "title": page["title"],
        "learning_map": learning_map(page["links"]),
        "marks": marks(session, learner, page["key"]),
        "cite": cite_block(request, page),
        "person": person,
        "can_review": can_review(person),
        "verdicts": REVIEW_VERDICTS,
        "stances": STANCES,
    }
