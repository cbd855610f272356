"""Claim review in pages: the form on a concept page (a plain POST that redirects back) and
the review queue page. The form goes through the same service and rules as the API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from server.claims import service
from server.claims.schemas import NewReview
from server.concepts.service import claims_for, get_concept_row
from server.deps import SessionDep
from server.errors import InvalidInput
from server.keys import anchor_for
from server.pages.render import render_page
from server.people.deps import Reviewer

router = APIRouter(include_in_schema=False)

MAX_FORM_FIELDS = 120
QUEUE_PAGE = service.MAX_PAGE


async def review_form(request: Request) -> dict[str, list[str]]:
    """Every value of each field of an urlencoded form (the body is capped by BodyLimit)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        return parse_qs(body, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InvalidInput(f"a review form has at most {MAX_FORM_FIELDS} fields") from None


ReviewForm = Annotated[dict[str, list[str]], Depends(review_form)]


def first(form: dict[str, list[str]], name: str) -> str:
    return form.get(name, [""])[0]


def form_review(form: dict[str, list[str]], support: list[dict[str, Any]]) -> NewReview:
    """The review the form describes: one check per support link, by its place."""
    checked = set(form.get("checked", []))
    links = [
        {
            "source": link["source"],
            "link": i,
            "checked": str(i) in checked,
            "stance": first(form, f"stance-{i}") or link["stance"],
        }
        for i, link in enumerate(support)
    ]
    supersedes = first(form, "supersedes")
    try:
        return NewReview.model_validate(
            {
                "verdict": first(form, "verdict"),
                "summary": first(form, "summary"),
                "caveats": first(form, "caveats"),
                "support": links,
                "supersedes": int(supersedes) if supersedes.isdigit() else None,
            }
        )
    except ValidationError as error:
        details = [{"loc": [str(p) for p in e["loc"]], "message": e["msg"]} for e in error.errors()]
        problems = "; ".join(f"{'.'.join(d['loc'])}: {d['message']}" for d in details)
        raise InvalidInput(f"the review was not added: {problems}", details) from None


@router.post("/concepts/{context}/{slug}/reviews")
def add_review_from_page(
    context: str, slug: str, session: SessionDep, form: ReviewForm, person: Reviewer
) -> RedirectResponse:
    """Adds the review and sends the browser back to the claim (303: a GET follows)."""
    concept = get_concept_row(session, context, slug)
    claim_key = first(form, "claim")
    claim = service.claim_row(session, claim_key)
    if claim.concept_key != concept.key:
        raise InvalidInput(f"'{claim_key}' is not a claim of '{concept.key}'")
    record = claims_for(session, [claim])[0]
    review = service.add_review(session, claim.key, form_review(form, record["support"]), person)
    target = f"/concepts/{context}/{slug}?reviewed={review.id}#{quote(anchor_for(claim.key))}"
    return RedirectResponse(target, status_code=303)


@router.get("/reviews", response_class=HTMLResponse)
def review_queue(request: Request, session: SessionDep) -> HTMLResponse:
    claims, count = service.list_claims(session, service.ClaimFilter(needs="review"), QUEUE_PAGE, 0)
    for claim in claims:
        page = "/concepts/" + claim["concept"].partition(":")[2]
        claim["form_url"] = f"{page}#review-{claim['anchor']}"
        claim["page_url"] = page
    context = {"claims": claims, "count": count, "title": "Review queue"}
    return render_page(
        request, "reviews.html", context, f"/api/claims?needs=review&limit={QUEUE_PAGE}"
    )
