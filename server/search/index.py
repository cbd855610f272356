"""The searchable documents: one per concept (title, summary, sections), claim and source.

They are rebuilt from the store whenever ingest writes; the backend's own full-text index
follows them (FTS5 triggers on SQLite, a generated tsvector column on PostgreSQL).
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from server.keys import anchor_for
from server.models import Claim, Concept, ConceptSource, SearchDocument, Source
from server.render.math import LatexError, to_mathml

# Snippet markers: private-use characters, removed from indexed text so they mark only hits.
MARK_START, MARK_END = "\ue000", "\ue001"
SPACES = re.compile(r"\s+")
INDEX_TABLES = ("search_fts",)  # the FTS5 table and its shadow tables
INDEX_COLUMNS = ("tsv",)
INDEX_NAMES = ("ix_search_document_tsv",)
MAX_REFRESH = 64


MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)
TAGS = re.compile(r"<[^>]*>")


def _math_text(found: re.Match[str]) -> str:
    """A math span as the characters a reader sees (``$x_1$`` -> ``x1``), not its TeX, so
    snippets show no raw TeX and a search for the symbols still matches."""
    latex = found.group(1) or found.group(2)
    try:
        return html.unescape(TAGS.sub("", to_mathml(latex)))
    except LatexError:
        return latex


FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)


def clean(text: str) -> str:
    """Searchable prose: math as its characters, fenced code left out (a snippet is prose;
    witnesses are found by their concept and what they demonstrate)."""
    text = FENCE.sub(" ", text)
    text = MATH.sub(_math_text, text.replace(MARK_START, "").replace(MARK_END, ""))
    return SPACES.sub(" ", text).strip()


def concept_url(key: str) -> str:
    return "/concepts/" + key.partition(":")[2]


def documents(session: Session, concept_keys: set[str] | None = None) -> list[SearchDocument]:
    """The documents of these concepts and their claims (all when None), and every source."""
    concept_query = select(Concept).order_by(col(Concept.key))
    claim_query = select(Claim).order_by(col(Claim.key))
    if concept_keys is not None:
        concept_query = concept_query.where(col(Concept.key).in_(sorted(concept_keys)))
        claim_query = claim_query.where(col(Claim.concept_key).in_(sorted(concept_keys)))
    docs = []
    for c in session.exec(concept_query):
        sections = " ".join(
            f"{s.get('title', '')}. {s.get('markdown', '')}" for s in c.data.get("sections", [])
        )
        docs.append(_doc(c.key, "concept", c.title, f"{c.summary} {sections}", concept_url(c.key)))
    for claim in session.exec(claim_query):
        title = claim.text if len(claim.text) <= 120 else claim.text[:119] + "…"
        url = f"{concept_url(claim.concept_key)}#{anchor_for(claim.key)}"
        docs.append(_doc(claim.key, "claim", title, claim.text, url))
    grounds: dict[str, list[str]] = defaultdict(list)
    for g in session.exec(select(ConceptSource).order_by(col(ConceptSource.concept_key))):
        grounds[g.source_key].append(g.grounds)
    for s in session.exec(select(Source).order_by(col(Source.key))):
        cited = ", ".join(s.authors)
        body = f"{cited} ({s.year}). {s.venue or ''}. {' '.join(grounds[s.key])}"
        docs.append(_doc(s.key, "source", s.title, body, f"/sources/{s.slug}"))
    return docs


def _doc(key: str, kind: str, title: str, body: str, url: str) -> SearchDocument:
    return SearchDocument(key=key, kind=kind, title=clean(title), body=clean(body), url=url)


def rebuild(session: Session) -> int:
    """Replace every search document with the store's current objects; returns their count."""
    session.execute(delete(SearchDocument))
    docs = documents(session)
    session.add_all(docs)
    session.flush()
    return len(docs)


def refresh(session: Session, concept_keys: list[str]) -> int:
    """Rewrite the documents of these concepts (written, rewritten or removed by an ingest)
    and their claims, and of every source (what a source grounds may have changed with them);
    the other concepts' documents stay as they are. Returns the documents written."""
    if len(concept_keys) > MAX_REFRESH:  # one clause per concept: past this, start afresh
        return rebuild(session)
    stale = or_(
        col(SearchDocument.kind) == "source",
        col(SearchDocument.key).in_(concept_keys),
        *(
            col(SearchDocument.key).startswith(f"claim:{key.partition(':')[2]}/", autoescape=True)
            for key in concept_keys
        ),
    )
    session.execute(delete(SearchDocument).where(stale))
    docs = documents(session, set(concept_keys))
    session.add_all(docs)
    session.flush()
    return len(docs)


def ensure_built(session: Session) -> None:
    """Build the index for a store filled before search existed (nothing else changed it)."""
    has_docs = session.exec(select(func.count()).select_from(SearchDocument)).one()
    if not has_docs and session.exec(select(func.count()).select_from(Concept)).one():
        rebuild(session)


def is_model_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object``: the backend's index objects are not models."""
    if type_ == "table" and name and name.startswith(INDEX_TABLES):
        return False
    if type_ == "column" and name in INDEX_COLUMNS and obj.table.name == "search_document":
        return False
    return not (type_ == "index" and name in INDEX_NAMES)
