"""Claim review in pages: the form on a concept page (a plain POST that redirects back) and
the review queue page. The form goes through the same service and rules as the API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from server.claims import service
from server.claims.schemas import NewReview
from server.concepts.service import claims_for, get_concept_row
from server.deps import SessionDep
from server.errors import Conflict, InvalidInput
from server.keys import anchor_for
from server.pages.concept import concept_values
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
    context: str, slug: str, request: Request, session: SessionDep, form: ReviewForm,
    person: Reviewer,
) -> Response:  # fmt: skip
    """Adds the review and sends the browser back to the claim (303: a GET follows).

    A review the rules refuse writes nothing and answers the page again, the form filled with
    what the reviewer typed and each problem next to its field.
    """
    concept = get_concept_row(session, context, slug)
    claim_key = first(form, "claim")
    claim = service.claim_row(session, claim_key)
    if claim.concept_key != concept.key:
        raise InvalidInput(f"'{claim_key}' is not a claim of '{concept.key}'")
    record = claims_for(session, [claim])[0]
    try:
        review = service.add_review(
            session, claim.key, form_review(form, record["support"]), person
        )
    except (InvalidInput, Conflict) as error:
        if not session.is_active:  # refused by the database itself: nothing to re-show
            raise
        values = concept_values(request, session, context, slug)
        values["review_draft"] = review_draft(claim.key, form, error)
        twin: str = values["page"]["api_url"]
        return render_page(request, "concept.html", values, twin, status=error.status_code)
    target = f"/concepts/{context}/{slug}?reviewed={review.id}#{quote(anchor_for(claim.key))}"
    return RedirectResponse(target, status_code=303)


FORM_FIELDS = ("verdict", "summary", "caveats", "support", "supersedes")


def review_draft(
    claim_key: str, form: dict[str, list[str]], error: InvalidInput | Conflict
) -> dict[str, Any]:
    """What the reviewer typed, and the problems by field (``form``: the rest)."""
    errors: dict[str, list[str]] = {}
    for detail in error.details or [{}]:
        loc = [str(p) for p in detail.get("loc", [])] if isinstance(detail, dict) else []
        loc = loc[1:] if loc[:1] == ["body"] else loc
        field = loc[0] if loc and loc[0] in FORM_FIELDS else "form"
        message = detail.get("message") if isinstance(detail, dict) else None
        message = str(message or error.message).removeprefix("Value error, ")
        if message not in errors.setdefault(field, []):
            errors[field].append(message)
    return {
        "claim": claim_key,
        "verdict": first(form, "verdict"),
        "summary": first(form, "summary"),
        "caveats": first(form, "caveats"),
        "checked": set(form.get("checked", [])),
        "stances": {name.removeprefix("stance-"): values[0] for name, values in form.items()
                    if name.startswith("stance-") and values},
        "supersedes": first(form, "supersedes"),
        "message": error.message,
        "errors": {field: "; ".join(messages) for field, messages in errors.items()},
    }  # fmt: skip


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
