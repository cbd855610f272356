"""What a prompt's object rests on, stated as one derived line under its ``Object:`` line.

A concept's line is its grounding status (``server.learning``). Every other object gets the
same kind of statement for what it rests on: a witness on its own runs and strength, a claim
on its review and the sources it cites, a misconception on what exposes it, an equation or a
demo state on its concept, a source on nothing derived (it is where evidence starts). Like the
concept's, it is derived from the store, never authored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.models import SUBSTANTIVE_VERDICTS
from server.tutor.entries import assess
from server.tutor.prompt import Related

Record = Mapping[str, Any]
PREFIX = "Grounding (derived from runs and reviews): "
SHORT_STATUS = {"fully-grounded": "fully grounded", "grounded": "grounded, not every prerequisite"}


def concept_status(concept: Record | None) -> str:
    """``its concept, grounded (2/2 witnesses passing, 1/1 claims reviewed)``: short, as the
    ``Part of:`` line above it names the concept."""
    grounding = concept.get("grounding") if concept else None
    if not grounding:
        return "its concept, whose grounding is not known"
    ev = grounding["evidence"]
    label = SHORT_STATUS.get(grounding["status"], "not grounded")
    return (
        f"its concept, {label} ({ev['witnesses_passing']}/{ev['witnesses']} witnesses passing, "
        f"{ev['claims_reviewed']}/{ev['claims']} claims reviewed)"
    )


def rests_on(
    kind: str, record: Record, concept: Record | None, related: Sequence[Related]
) -> list[str]:
    """The object's grounding line (none for a concept: its own line says it)."""
    if kind == "concept":
        return []
    if kind == "source":
        return [PREFIX + _source(related)]
    on_concept = concept_status(concept)
    if kind == "witness":
        return [PREFIX + f"rests on its runs, {_witness(record)}, and {on_concept}"]
    if kind == "claim":
        return [PREFIX + f"rests on its review, {_claim(record)}, and {on_concept}"]
    if kind == "misconception":
        return [PREFIX + f"rests on what exposes it, {_exposers(record, related)}, and "
                f"{on_concept}"]  # fmt: skip
    return [PREFIX + f"rests on {on_concept}; itself as authored, not checked by a run or review"]


def _witness(record: Record) -> str:
    verified, why = assess("witness", record)
    strength = record.get("strength")
    if not verified:
        return f"not verified ({why})"
    if not strength:
        return "verified (latest run passed, current; strength not measured)"
    if strength.get("stale"):
        return "verified (latest run passed, current; strength stale)"
    if not strength.get("meets_target"):
        return "not verified (it passed, but its checks miss too many mutants)"
    source = ", committed record" if strength.get("origin") == "record" else ""
    return f"verified (latest run passed, current; strength meets the target{source})"


def _claim(record: Record) -> str:
    verdict = str(record.get("verdict", "unreviewed"))
    status = "verified" if verdict in SUBSTANTIVE_VERDICTS else "not verified"
    support = record.get("support") or []  # each listed on its own Support line
    sources = len({str(e["source"]) for e in support})
    read = sum(1 for e in support if e.get("checked"))
    return f"{status} ({verdict}; {read} of {len(support)} locators of {sources} source(s) read)"


def _exposers(record: Record, related: Sequence[Related]) -> str:
    by_key = {r.key: r for r in related}
    parts = []
    for key in record.get("exposed_by") or []:
        found = by_key.get(key)
        if found is None:
            parts.append(f"{key} (not in this prompt)")
            continue
        verified, why = assess(found.kind, found.record, found.about)
        parts.append(f"{key} ({'verified' if verified else 'not verified'}: {why})")
    return ", ".join(parts) if parts else "nothing named"


def _source(related: Sequence[Related]) -> str:
    concepts = [r for r in related if r.kind == "concept"]
    claims = [r for r in related if r.kind == "claim"]
    reviewed = sum(1 for r in claims if assess("claim", r.record)[0])
    return (
        "a source is where evidence starts, derived from nothing here; it grounds "
        f"{len(concepts)} concept page(s) and is cited by {len(claims)} claim(s), {reviewed} of "
        "them with a substantive review"
    )
