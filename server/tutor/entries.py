"""How each kind of object is shown as evidence, and whether it counts as verified.

Verified means something checked it: a passing witness run that is still current, or a
substantive claim review (supported, partial, unsupported or contested, so a verified
verdict may be negative). Everything else is shown as unverified, with the reason.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from server.models import SUBSTANTIVE_VERDICTS
from server.objects.serialize import review_signature
from server.tutor.evidence import title_of
from server.tutor.prompt import Code, Entry, Finding, Related

Record = Mapping[str, Any]
SPEC_LIMIT = 800

VERDICT_MEANING = {
    "supported": "the cited source supports the claim as stated",
    "partial": "the cited source supports only part of the claim",
    "unsupported": "the cited source does not support the claim as stated",
    "contested": "the sources disagree about the claim",
}
AUTHORED = {
    "concept": "authored link: a teaching judgement, not a checked fact",
    "equation": "as authored: not checked by a run or a review",
    "source": "citation as authored: what it grounds is not checked against the source text",
    "demo": "as authored: the demo state is not evaluated in this prompt",
    "misconception": "as authored: not checked by a run or a review",
}
# Relations that the evidence line an entry sits under already explains.
PLAIN_RELATIONS = frozenset(
    {"on the same concept page", "grounds this concept", "equation", "witness", "demo",
     "claim", "misconception"}
)  # fmt: skip


def when(stamp: str) -> str:
    """``2026-05-08 10:04 UTC`` from an ISO time stamp (naive stamps are UTC)."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _run_environment(run: Record) -> str:
    env = run.get("environment") or {}
    parts = [f"numpy {env['numpy']}" if env.get("numpy") else "", str(env.get("python") or "")]
    return ", ".join(p for p in parts if p)


def assess(kind: str, record: Record, about: Mapping[str, Any] | None = None) -> tuple[bool, str]:
    """(verified, why) for an object shown as evidence."""
    if kind == "witness":
        run = record.get("latest_run")
        if run is None:
            return False, "no run yet"
        if run["stale"]:
            return False, "stale run: the code, its checks or the environment changed since"
        if run["status"] != "passed":
            return False, f"last run {run['status']}"
        strength = record.get("strength")
        if strength and strength.get("weak"):
            return False, "weak: its checks catch none of its mutants, so its pass shows nothing"
        env = _run_environment(run)
        return True, f"passing current run ({when(run['created_at'])}" + (
            f", {env})" if env else ")"
        )
    if kind == "claim":
        verdict = str(record.get("verdict", "unreviewed"))
        review = record.get("latest_review")
        if verdict in SUBSTANTIVE_VERDICTS and review is not None:
            return True, (
                f"substantive review, verdict {verdict}: {VERDICT_MEANING[verdict]} "
                f"({_signed(review)}, {review['date']})"
            )
        if verdict == "bounded":
            return False, "review verdict bounded: exact support not checked"
        return False, "no substantive review yet: exact source support not checked"
    if kind == "concept" and about and about.get("grounds"):
        return False, "grounding statement as authored: not checked against the source text"
    if kind == "concept" and not (about and about.get("type")):
        return False, "concept page as authored: not checked by a run or a review"
    return False, AUTHORED[kind]


def locator_text(locator: Mapping[str, Any]) -> str:
    parts = []
    for name in ("section", "equation", "page"):
        if locator.get(name) not in (None, ""):
            parts.append(f"{name} {locator[name]}")
    if locator.get("quote"):
        parts.append(f'quote "{locator["quote"]}"')
    return "; ".join(parts) or "no locator"


def support_line(entry: Mapping[str, Any]) -> str:
    checked = "locator checked" if entry.get("checked") else "locator not checked"
    return f"{entry['stance']} {entry['source']} at {locator_text(entry['locator'])} ({checked})"


def _checks(checks: list[Mapping[str, Any]]) -> list[str]:
    """One line naming every check (a size budget cuts it as one), then any expected stdout."""
    named, expected = [], []
    for check in checks:
        tolerance = f" (within {check['tolerance']:g})" if "tolerance" in check else ""
        kind = check.get("kind")
        if kind == "stdout":
            named.append(f"stdout matches the expected text, numbers compared{tolerance}")
            expected.append("Expected stdout:\n" + str(check.get("expected", "")).rstrip("\n"))
        elif kind == "variable":
            op = check.get("kernel", {}).get("op", "?")
            named.append(f"variable {check.get('name')} equals the kernel's {op}{tolerance}")
        elif kind == "invariant":
            named.append(f"invariant {check.get('invariant')} holds{tolerance}")
        elif kind == "error":
            match = f" matching '{check['match']}'" if check.get("match") else ""
            named.append(f"raises {check.get('exception')}{match}")
    if not named:
        return ["Checks: none (passes when it exits 0)"]
    return [("Check: " if len(named) == 1 else "Checks: ") + "; ".join(named), *expected]


def _run_lines(record: Record) -> list[str]:
    run = record.get("latest_run")
    if run is None:
        return ["Last run: none yet"]
    env = _run_environment(run)
    state = "stale" if run["stale"] else "current"
    line = f"Last run: {run['status']} on {when(run['created_at'])}"
    lines = [line + (f" ({env})" if env else "") + f", {state}"]
    failing = [str(c.get("name")) for c in run.get("checks") or [] if not c.get("ok")]
    if failing:
        lines.append("Failing checks: " + ", ".join(failing))
    return lines


def _strength_lines(record: Record) -> list[str]:
    strength = record.get("strength")
    if not strength:
        return ["Strength: not measured"]
    share = "" if strength.get("share") is None else f" ({strength['share']:.0%})"
    line = f"Strength: checks catch {strength['caught']} of {strength['mutants']} mutants{share}"
    if strength.get("origin") == "record":
        line += " (committed record, not run here)"
    if strength.get("stale"):
        line += ", stale (the code or checks changed since)"
    elif strength.get("weak"):
        line += ", weak"
    else:
        met = "meets" if strength.get("meets_target") else "below"
        line += f", {met} the {strength.get('target', 0.8):.0%} target"
    survivors = []
    for survivor in strength.get("survivors") or []:
        notes = [survivor["description"]] if survivor.get("description") else []
        notes += [f"equivalent: {survivor['equivalent']}"] if survivor.get("equivalent") else []
        survivors.append(survivor["id"] + (f" ({'; '.join(notes)})" if notes else ""))
    if survivors:  # on the same line, so that a size budget can cut it like any long detail
        line += f"; surviving mutants ({len(survivors)}): " + ", ".join(survivors)
    return [line]


def _citation(record: Record) -> str:
    authors = ", ".join(record.get("authors") or [])
    venue = f" {record['venue']}." if record.get("venue") else ""
    return f"{authors} ({record['year']}). {record['title']}.{venue}"


def _identifiers(record: Record) -> list[str]:
    ids = []
    if record.get("arxiv"):
        ids.append(f"arXiv {record['arxiv']}")
    if record.get("doi"):
        ids.append(f"doi {record['doi']}")
    if record.get("url"):
        ids.append(str(record["url"]))
    return ["Identifiers: " + "; ".join(ids)] if ids else []


def _spec(spec: Any) -> str:
    text = json.dumps(spec, ensure_ascii=False, separators=(", ", ": "))
    if len(text) <= SPEC_LIMIT:
        return text
    return text[:SPEC_LIMIT] + f"… [{len(text) - SPEC_LIMIT} more characters]"


def describe(
    kind: str, record: Record, about: Mapping[str, Any]
) -> tuple[str, list[str], Code | None]:
    """(heading, detail lines, code) of one object shown as evidence."""
    key = record["key"]
    if kind == "concept":
        return _describe_concept(record, about)
    if kind == "source":
        details = _identifiers(record)
        if about.get("grounds"):
            details.append(f"Grounds here: {about['grounds']}")
        details += [f"Cited for this claim: {support_line(e)}" for e in about.get("support", [])]
        return f"{key}: {_citation(record)}", details, None
    if kind == "equation":
        details = [f"LaTeX: {record['latex']}"]
        symbols = "; ".join(f"{s['symbol']}: {s['meaning']}" for s in record.get("symbols", []))
        if symbols:
            details.append(f"Symbols: {symbols}")
        return f"{key} ({record['label']}): {record['statement']}", details, None
    if kind == "witness":
        details = _run_lines(record) + _strength_lines(record) + _checks(record.get("checks", []))
        code = Code(str(record.get("language", "python")), str(record["code"]))
        return f"{key}: {record['demonstrates']}", details, code
    if kind == "demo":
        controls = "; ".join(
            f"{c['label']} = {c['value']:g} (from {c['min']:g} to {c['max']:g}, "
            f"moves {', '.join(c['paths'])})"
            for c in record.get("controls") or []
        )
        details = [f"Controls: {controls}"] if controls else []
        details.append(f"Flow spec: {_spec(record.get('spec'))}")
        return f"{key} ({record['title']}): {record['caption']}", details, None
    if kind == "claim":
        return f"{key}: {record['text']}", _claim_lines(record, about), None
    exposed = ", ".join(record.get("exposed_by", []))
    details = [f"Why it is wrong: {record['why_wrong']}"]
    if exposed:
        details.append(f"Exposed by: {exposed}")
    return f"{key}: {record['belief']}", details, None


def _describe_concept(
    record: Record, about: Mapping[str, Any]
) -> tuple[str, list[str], Code | None]:
    key, title = record["key"], record["title"]
    details = [f"Summary: {record['summary']}"]
    link_type = about.get("type")
    if link_type is None:
        heading = f"{key} ({title})"
    elif about.get("direction") == "incoming":
        heading = f"{key} ({title}) links here as {link_type}: {about['reason']}"
    else:
        heading = f"{link_type} link to {key} ({title}): {about['reason']}"
    if about.get("gate"):
        details.append(f"Gate: {about['gate']}")
    if about.get("grounds"):
        details.append(f"Grounds there: {about['grounds']}")
    return heading, details, None


def _signed(review: Mapping[str, Any]) -> str:
    """The reviewer, or a bundled review's signature labelled as bundled with the content."""
    return review_signature(str(review["reviewer"]), str(review.get("origin", "api")))


def _claim_lines(record: Record, about: Mapping[str, Any]) -> list[str]:
    lines = []
    reviews = list(record.get("reviews") or [])
    if reviews:
        latest = reviews[-1]
        lines.append(
            f"Review: {latest['verdict']} ({_signed(latest)}, {latest['date']}): "
            f"{latest['summary']}"
        )
        if latest.get("caveats"):
            lines.append(f"Caveats: {latest['caveats']}")
        earlier = [f"{r['verdict']} ({_signed(r)}, {r['date']})" for r in reviews[:-1]]
        if earlier:
            lines.append("Earlier reviews: " + "; ".join(earlier))
    else:
        lines.append("Review: none yet (unreviewed)")
    support = about.get("support") or record.get("support") or []
    lines += [f"Support: {support_line(e)}" for e in support]
    return lines


_shown: weakref.WeakKeyDictionary[Related, Entry] = weakref.WeakKeyDictionary()


def entry_for(related: Related) -> Entry:
    """How ``related`` is shown; remembered per object, as gathered evidence is reused."""
    entry = _shown.get(related)
    if entry is None:
        entry = _shown[related] = _entry(related)
    return entry


def _entry(related: Related) -> Entry:
    heading, details, code = describe(related.kind, related.record, related.about)
    is_link = related.kind == "concept" and "type" in related.about
    if related.relation not in PLAIN_RELATIONS and not is_link:
        details = [f"Why it is here: {related.relation}", *details]
    verified, why = assess(related.kind, related.record, related.about)
    return Entry(
        key=related.key,
        kind=related.kind,
        relation=related.relation,
        heading=heading,
        details=tuple(details),
        code=code,
        verified=verified,
        why=why,
        rank=related.rank,
        record=related.record,
        findings=(
            Finding(related.key, related.key, why),
            *locator_findings(related.kind, related.key, related.record),
        ),
        about=related.about,
    )


def locator_findings(kind: str, key: str, record: Record) -> list[Finding]:
    """One unverified line per locator of a claim that nobody has read at that place."""
    if kind != "claim":
        return []
    return [
        Finding(key, f"{key} citing {e['source']} at {locator_text(e['locator'])}",
                "locator not checked")
        for e in record.get("support") or []
        if not e.get("checked")
    ]  # fmt: skip


def grounding_lines(grounding: Mapping[str, Any] | None) -> list[str]:
    """The concept's derived grounding status, as one line (none when it is not known)."""
    if not grounding:
        return []
    ev = grounding["evidence"]
    label = {"fully-grounded": "fully grounded (it and every prerequisite)",
             "grounded": "grounded, but not every prerequisite is"}.get(
        grounding["status"], "not grounded")  # fmt: skip
    return [
        f"Grounding (derived from runs and reviews): {label}; "
        f"{ev['witnesses_passing']}/{ev['witnesses']} witness(es) with a current passing run, "
        f"{ev['claims_reviewed']}/{ev['claims']} claim(s) with a substantive review"
    ]


def object_lines(
    kind: str, record: Record, concept: Record | None, grounding: list[str] | None = None
) -> list[str]:
    """What is shown under the ``Object:`` line about the prompt's own object; ``grounding``
    (``server.tutor.grounding.rests_on``) follows the concept it is part of."""
    lines = [f"Part of: {concept['key']} ({concept['title']})"] if concept else []
    lines += grounding or []
    if kind == "concept":
        return [
            f"Summary: {record['summary']}",
            f"Learning map: {record['bridge']}",
            *grounding_lines(record.get("grounding")),
        ]
    full = {"witness": "demonstrates", "claim": "text", "misconception": "belief"}.get(kind)
    if full and title_of(kind, record) != record[full]:
        lines.append(f"In full: {record[full]}")
    if kind == "source":
        return [f"Citation: {_citation(record)}", *_identifiers(record), *lines]
    if kind == "equation":
        lines.append(f"Statement: {record['statement']}")
    if kind == "demo":
        lines.append(f"Caption: {record['caption']}")
    _, details, _ = describe(kind, record, {})
    return lines + details
