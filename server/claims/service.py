"""Reviews (append-only: a correction is a new review naming the one it supersedes), the
review queue and claim lists, and the claims that cite a source."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.claims.schemas import NewReview
from server.concepts.service import claims_for
from server.errors import Conflict, InvalidInput, NotFound
from server.keys import parse_key, source_key
from server.models import (
    STANCES,
    SUBSTANTIVE_VERDICTS,
    VERDICTS,
    Claim,
    ClaimReview,
    ClaimSupport,
    ConceptSource,
    ObjectKey,
    Source,
    utcnow,
)
from server.objects.resolve import resolve_key
from server.objects.serialize import review_json, source_json
from server.paging import decode_cursor, encode_cursor
from server.people.identity import Person
from server.store import bump_revision

MAX_PAGE = 200


def claim_row(session: Session, key: str) -> Claim:
    """The claim behind ``key`` (aliases raise Moved, tombstones Gone)."""
    if parse_key(key).kind != "claim":
        raise InvalidInput(f"'{key}' is not a claim key")
    key = resolve_key(session, key)
    row = session.exec(select(Claim).where(col(Claim.key) == key)).first()
    if row is None:  # pragma: no cover - the registry and the tables agree
        raise NotFound(f"no claim has the key '{key}'")
    return row


def as_source_key(value: str) -> str:
    return value if value.startswith("source:") else source_key(value)


def _support_checks(session: Session, claim: Claim, body: NewReview) -> list[dict[str, Any]]:
    links = list(
        session.exec(
            select(ClaimSupport)
            .where(col(ClaimSupport.claim_key) == claim.key)
            .order_by(col(ClaimSupport.position))
        )
    )
    checks: list[dict[str, Any]] = []
    for i, item in enumerate(body.support):
        key, loc = as_source_key(item.source), ["body", "support", str(i)]
        mine = [n for n, link in enumerate(links) if link.source_key == key]
        if not mine:
            raise InvalidInput(
                f"'{item.source}' is not a support link of '{claim.key}'",
                [{"loc": [*loc, "source"], "links": sorted({s.source_key for s in links})}],
            )
        if item.link is not None and item.link not in mine:
            raise InvalidInput(
                f"support link {item.link} of '{claim.key}' does not cite '{key}'",
                [{"loc": [*loc, "link"], "links of that source": mine}],
            )
        same_source = [c["link"] for c in checks if c["source"] == key]
        if any(None in (link, item.link) or link == item.link for link in same_source):
            raise InvalidInput(f"support link '{key}' is named twice", [{"loc": [*loc, "source"]}])
        stance = item.stance or links[item.link if item.link is not None else mine[0]].stance
        checks.append({"source": key, "link": item.link, "checked": item.checked, "stance": stance})
    return checks


def add_review(
    session: Session, key: str, body: NewReview, reviewer: Person, *, origin: str = "api",
    now: datetime | None = None,
) -> ClaimReview:  # fmt: skip
    """Append a review by ``reviewer``, now; bumps the store revision (pages and prompts)."""
    claim = claim_row(session, key)
    checks = _support_checks(session, claim, body)
    if body.supersedes is not None:
        earlier = session.get(ClaimReview, body.supersedes)
        if earlier is None or earlier.claim_key != claim.key:
            raise InvalidInput(
                f"review {body.supersedes} is not a review of '{claim.key}'",
                [{"loc": ["body", "supersedes"]}],
            )
        replaced_by = session.exec(
            select(ClaimReview.id).where(col(ClaimReview.supersedes) == body.supersedes)
        ).first()
        if replaced_by is not None:
            raise Conflict(
                f"review {body.supersedes} is already superseded by review {replaced_by}",
                [{"loc": ["body", "supersedes"], "superseded_by": replaced_by}],
            )
    now = now or utcnow()
    review = ClaimReview(
        claim_key=claim.key,
        verdict=body.verdict,
        reviewer=reviewer.name,
        reviewed_on=now.date(),
        summary=body.summary,
        caveats=body.caveats,
        origin=origin,
        created_at=now,
        support=checks,
        supersedes=body.supersedes,
    )
    session.add(review)
    try:
        session.flush()
    except IntegrityError:  # another correction of the same review committed first
        raise Conflict(
            f"review {body.supersedes} was superseded by another review meanwhile",
            [{"loc": ["body", "supersedes"]}],
        ) from None
    bump_revision(session)
    return review


def reviews_of(session: Session, key: str) -> list[dict[str, Any]]:
    claim = claim_row(session, key)
    record = claims_for(session, [claim])[0]
    reviews: list[dict[str, Any]] = record["reviews"]
    return reviews


def review_detail(session: Session, key: str, review_id: int) -> dict[str, Any]:
    claim = claim_row(session, key)
    row = session.get(ClaimReview, review_id)
    if row is None or row.claim_key != claim.key:
        raise NotFound(f"'{claim.key}' has no review {review_id}")
    replaced_by = session.exec(
        select(ClaimReview.id).where(col(ClaimReview.supersedes) == review_id)
    ).first()
    return review_json(row, replaced_by)


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    needs: str | None = None
    verdict: str | None = None
    source: str | None = None
    concept: str | None = None

    def check(self) -> None:
        if self.needs not in (None, "review"):
            raise InvalidInput("needs must be 'review'", [{"loc": ["query", "needs"]}])
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise InvalidInput(
                f"'{self.verdict}' is not a verdict: expected one of {', '.join(VERDICTS)}",
                [{"loc": ["query", "verdict"]}],
            )


# A claim's place in a list: (concept key, position, key), or in the queue (waiting since, key).
Position = tuple[Any, ...]
LIST_CURSOR, QUEUE_CURSOR = "claims", "claims-queue"


def claim_index(session: Session, filters: ClaimFilter) -> list[tuple[Position, str]]:
    """Every matching claim's place, in list order, read as plain columns (no page data).

    The queue (``needs=review``) is every claim without a substantive latest review, the one
    waiting longest first (by when its key first became active); other lists go by concept and
    position on the page.
    """
    filters.check()
    query = select(col(Claim.key), col(Claim.concept_key), col(Claim.position))
    if filters.concept is not None:
        concept = filters.concept
        concept = concept if concept.startswith("concept:") else f"concept:{concept}"
        parse_key(concept)  # 422 for anything that is not a concept key
        query = query.where(col(Claim.concept_key) == concept)
    if filters.source is not None:
        source = as_source_key(filters.source)
        parse_key(source)
        linked = select(ClaimSupport.claim_key).where(col(ClaimSupport.source_key) == source)
        query = query.where(col(Claim.key).in_(linked))
    claims = list(session.execute(query))
    verdicts = _latest_verdicts(session)
    index: list[tuple[Position, str]] = []
    if filters.needs == "review":
        waiting = [c.key for c in claims if verdicts.get(c.key) not in SUBSTANTIVE_VERDICTS]
        since = _active_since(session, waiting)
        index = [((since.get(key, ""), key), key) for key in waiting]
    else:
        index = [((c.concept_key, c.position, c.key), c.key) for c in claims]
    if filters.verdict is not None:
        index = [i for i in index if verdicts.get(i[1], "unreviewed") == filters.verdict]
    index.sort()
    return index


def _latest_verdicts(session: Session) -> dict[str, str]:
    latest: dict[str, str] = {}
    history = select(col(ClaimReview.claim_key), col(ClaimReview.verdict)).order_by(
        col(ClaimReview.reviewed_on), col(ClaimReview.id)
    )
    for claim_key, verdict in session.execute(history):
        latest[claim_key] = verdict
    return latest


def claims_page(
    session: Session,
    filters: ClaimFilter,
    index: list[tuple[Position, str]],
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``index`` (after ``cursor``, else from ``offset``) and the next cursor."""
    name, types = (QUEUE_CURSOR, (str, str)) if filters.needs == "review" else (
        LIST_CURSOR, (str, int, str))  # fmt: skip
    start = offset
    if cursor is not None:
        after = decode_cursor(name, cursor, types)
        start = bisect_right(index, (after, "\uffff"))  # a cursor is stable under inserts
    window = index[start : start + limit]
    rows = {
        c.key: c
        for c in session.exec(select(Claim).where(col(Claim.key).in_([k for _, k in window])))
    }
    present = [rows[k] for _, k in window if k in rows]
    following = None
    if start + limit < len(index) and window:
        following = encode_cursor(name, window[-1][0])
    return claims_for(session, present), following


def list_claims(
    session: Session, filters: ClaimFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of matching claims from ``offset``, and the total count."""
    index = claim_index(session, filters)
    data, _ = claims_page(session, filters, index, limit, offset)
    return data, len(index)


def _active_since(session: Session, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    rows = session.exec(select(ObjectKey).where(col(ObjectKey.key).in_(keys)))
    return {r.key: r.updated_at.isoformat() for r in rows}


def source_with_claims(session: Session, source_id: str) -> dict[str, Any]:
    """A source, what it grounds on each concept, and the claims citing it, by stance."""
    key = resolve_key(session, as_source_key(source_id))
    source = session.exec(select(Source).where(col(Source.key) == key)).first()
    if source is None:  # pragma: no cover - the registry and the tables agree
        raise NotFound(f"no source has the key '{key}'")
    links = list(
        session.exec(
            select(ClaimSupport)
            .where(col(ClaimSupport.source_key) == key)
            .order_by(col(ClaimSupport.claim_key), col(ClaimSupport.position))
        )
    )
    claims = {
        c.key: c
        for c in session.exec(select(Claim).where(col(Claim.key).in_([s.claim_key for s in links])))
    }
    records = {r["key"]: r for r in claims_for(session, list(claims.values()))}
    by_stance: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for link in links:
        record = records.get(link.claim_key)
        if record is None:
            continue
        by_stance[link.stance].append(
            {
                "key": record["key"],
                "concept": record["concept"],
                "text": record["text"],
                "locator": link.locator,
                "checked": link.checked,
                "verdict": record["verdict"],
                "substantive": record["substantive"],
            }
        )
    grounds = [
        {"concept": g.concept_key, "grounds": g.grounds}
        for g in session.exec(
            select(ConceptSource)
            .where(col(ConceptSource.source_key) == key)
            .order_by(col(ConceptSource.concept_key))
        )
    ]
    return {
        **source_json(source),
        "grounds": grounds,
        "claims": {stance: by_stance.get(stance, []) for stance in STANCES},
        "claim_count": len(links),
    }
