"""``GET /api/plan/prompt``: a grounded prompt asking a tutor to take the learner along a plan.

Each step is cited by its key, with the edge reasons that put it in the plan and its evidence
split into verified (witnesses with a current passing run, claims with a substantive review)
and unverified. Like the object prompts it keeps within ``prompt_budget_chars``: claim texts go
first, from the steps farthest from the target, then extra reasons; the step lines themselves
stay, and whatever was left out is named at the end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from server.learning import service
from server.learning.index import index_for
from server.models import SUBSTANTIVE_VERDICTS, Claim, ClaimReview

MAX_CLAIM_CHARS = 300


@dataclass
class Step:
    head: str
    reasons: list[str]
    evidence: str
    claims: list[str] = field(default_factory=list)

    def lines(self, reasons: int, claims: bool) -> list[str]:
        out = [self.head, *self.reasons[:reasons], self.evidence]
        return out + (self.claims if claims else [])


def _claims(session: Session, concepts: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """concept key -> [(claim key, text, latest verdict)]."""
    rows = session.exec(
        select(Claim.key, Claim.concept_key, Claim.text)
        .where(col(Claim.concept_key).in_(concepts))
        .order_by(col(Claim.concept_key), col(Claim.position))
    ).all()
    verdicts: dict[str, str] = {}
    keys = [row[0] for row in rows]
    if keys:
        for claim_key, verdict in session.exec(
            select(ClaimReview.claim_key, ClaimReview.verdict)
            .where(col(ClaimReview.claim_key).in_(keys))
            .order_by(col(ClaimReview.reviewed_on), col(ClaimReview.id))
        ):
            verdicts[claim_key] = verdict
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for key, concept, text in rows:
        out[concept].append((key, text, verdicts.get(key, "unreviewed")))
    return out


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_CLAIM_CHARS else flat[: MAX_CLAIM_CHARS - 1] + "…"


def plan_prompt(
    session: Session, learner: str, target: str, *, site_name: str, budget_chars: int
) -> dict[str, Any]:
    plan = service.plan(session, learner, target)
    index = index_for(session)
    goal = plan["target"]
    claims = _claims(session, [s["key"] for s in plan["steps"]])
    steps: list[Step] = []
    for s in plan["steps"]:
        ev = s["evidence"]
        verified = (
            f"{ev['witnesses_passing']}/{ev['witnesses']} witness(es) with a current passing run, "
            f"{ev['claims_reviewed']}/{ev['claims']} claim(s) with a substantive review"
        )
        unverified_w = ev["witnesses"] - ev["witnesses_passing"]
        unverified_c = ev["claims"] - ev["claims_reviewed"]
        status = s["status"].replace("-", " ")
        steps.append(Step(
            head=f"{s['position']}. {s['key']} — {s['title']} (~{s['learn_time_min']} min; "
                 f"{status})",
            reasons=[f"   Why here: needed by {e['from']}: {e['reason']}" for e in s["needed_by"]]
            or ["   Why here: it is the target."],
            evidence=f"   Verified: {verified}. Unverified: {unverified_w} witness(es), "
                     f"{unverified_c} claim(s).",
            claims=[
                f"   - [{'verified' if v in SUBSTANTIVE_VERDICTS else 'unverified'}: {v}] "
                f"{_short(text)} ({key})"
                for key, text, v in claims.get(s["key"], [])
            ],
        ))  # fmt: skip
    header = [
        f"You are a tutor working from {site_name}'s reading room. Take the learner along "
        f'this learning plan to "{goal["title"]}" ({goal["key"]}), one step at a time, in '
        "order: each step comes after its own prerequisites.",
        "Cite each step by its key. Say which evidence is verified (a witness with a current "
        "passing run, a claim with a substantive review) and which is not, and never present "
        "an unverified claim as established. Check understanding before moving on.",
        "",
        f"Plan: {plan['count']} step(s), about {plan['total_time_min']} minutes.",
    ]
    known = plan["learned_prerequisites"]
    footer = [""]
    if known:
        footer.append("The learner has learned (skipped, with what lies only beneath them): "
                      + ", ".join(known))  # fmt: skip
    if not steps:
        footer.append("The learner has learned the target: review it with them instead.")

    def render(claims_from: int, reasons: int, dropped: list[str]) -> str:
        body: list[str] = []
        for i, step in enumerate(steps):
            body.extend(step.lines(reasons, claims=i >= claims_from))
        tail = [*footer, *([f"Left out for size: {'; '.join(dropped)}."] if dropped else [])]
        return "\n".join([*header, *body, *tail]).rstrip() + "\n"

    # Shed detail until it fits: claim texts from the first (farthest) steps, then reasons.
    dropped: list[str] = []
    claims_from, reasons = 0, max((len(s.reasons) for s in steps), default=1)
    text = render(claims_from, reasons, dropped)
    while len(text) > budget_chars and claims_from < len(steps):
        claims_from += 1
        dropped = [f"claim texts of steps 1-{claims_from}"]
        text = render(claims_from, reasons, dropped)
    while len(text) > budget_chars and reasons > 1:
        reasons -= 1
        dropped = [f"claim texts of steps 1-{claims_from}", f"reasons beyond the first {reasons}"]
        text = render(claims_from, reasons, dropped)
    return {
        "target": goal["key"],
        "prompt": text,
        "chars": len(text),
        "budget_chars": budget_chars,
        "within_budget": len(text) <= budget_chars,
        "dropped": dropped,
        "steps": [s["key"] for s in plan["steps"]],
        "revision": index.revision,
    }
