"""Claim routes: the review history (append-only), new reviews, the queue, claims by source."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import Session

from server.claims import service
from server.claims.schemas import MAX_ID, NewReview
from server.deps import SessionDep, read
from server.objects.serialize import review_json
from server.pagecache import PageCache
from server.paging import Cursor, page_answer
from server.people.deps import Reviewer

router = APIRouter(prefix="/api", tags=["claims"])

Text = Annotated[str | None, Query(max_length=400)]


@router.get("/claims", summary="Claims, filtered; needs=review is the review queue (oldest first)")
async def list_claims(
    request: Request,
    response: Response,
    needs: Annotated[str | None, Query(max_length=20, description="'review': the queue")] = None,
    verdict: Annotated[str | None, Query(max_length=20)] = None,
    source: Text = None,
    concept: Text = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Cursor = None,
) -> dict[str, Any]:
    filters = service.ClaimFilter(needs=needs, verdict=verdict, source=source, concept=concept)
    cache: PageCache = request.app.state.pages

    def page(session: Session) -> tuple[list[dict[str, Any]], int, str | None]:
        # The order of every matching claim is read once per store revision (reviews bump it).
        index = cache.serve_here(
            ("claims", needs, verdict, source, concept),
            lambda: service.claim_index(session, filters),
        )
        data, following = service.claims_page(session, filters, index, limit, offset, cursor)
        return data, len(index), following

    data, count, following = await read(request, page)
    return page_answer(request, response, data, count, following, limit=limit, offset=offset)


@router.post(
    "/claims/{key:path}/reviews",
    status_code=201,
    summary="Add a review (reviewers, editors, admins); reviewer and time come from the account",
)
def add_review(
    key: str, body: NewReview, session: SessionDep, person: Reviewer, response: Response
) -> dict[str, Any]:
    review = service.add_review(session, key, body, person)
    response.headers["Location"] = f"/api/claims/{review.claim_key}/reviews/{review.id}"
    return review_json(review)


@router.get("/claims/{key:path}/reviews/{review_id}", summary="One review of a claim")
def get_review(
    key: str, review_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep
) -> dict[str, Any]:
    return service.review_detail(session, key, review_id)


@router.get("/claims/{key:path}/reviews", summary="A claim's review history, oldest first")
def list_reviews(key: str, session: SessionDep) -> dict[str, Any]:
    data = service.reviews_of(session, key)
    return {"data": data, "count": len(data)}


@router.get("/sources/{source_id}", summary="A source and the claims that cite it, by stance")
def get_source(source_id: str, session: SessionDep) -> dict[str, Any]:
    return service.source_with_claims(session, source_id)
