"""A prompt as plain text (the seed's format), Markdown, or JSON with chat ``messages``."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from server.tutor.defaults import ANSWER_AS, OPENING, UNSETTLED
from server.tutor.prompt import Code, Entry, EvidenceLine, Finding, Prompt, dropped_label

VERIFIED_HEADING = "Verified evidence (a passing current witness run or a substantive review):"
UNVERIFIED_HEADING = "Unverified evidence and assumptions (each with why):"
NOTHING_VERIFIED = (
    "- none: no passing current witness run and no substantive review is part of this evidence"
)
NOTHING_FOUND = "(nothing in the store answers this line)"
ALL_DROPPED = "(dropped to fit the size budget: see below)"
PLURALS = {
    "concept": "concept links", "equation": "equations", "witness": "witnesses",
    "source": "sources", "claim": "claims", "misconception": "misconceptions", "demo": "demos",
}  # fmt: skip
DROPPED = "Dropped to fit the size budget (least central first): "
CUT = "Cut to fit the size budget: "


def _dropped_text(p: Prompt, name: Callable[[Entry], str]) -> str:
    if p.dropped_in_full:
        return ", ".join(name(e) for e in p.dropped)
    counts: dict[str, int] = {}
    for entry in p.dropped:
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
    kinds = ", ".join(f"{n} {PLURALS[kind] if n > 1 else kind}" for kind, n in counts.items())
    return f"{kinds} (ask for any of them by key)"


def _empty(line: EvidenceLine) -> str:
    return ALL_DROPPED if line.dropped else NOTHING_FOUND


def _tag(entry: Entry) -> str:
    return "[verified]" if entry.verified else "[unverified]"


def _block(text: str, indent: str) -> list[str]:
    return [indent + line if line else "" for line in text.rstrip("\n").split("\n")]


def _detail_lines(details: Iterable[str], code: Code | None, indent: str) -> list[str]:
    out = []
    for detail in details:
        first, _, rest = detail.partition("\n")
        out.append(indent + first)
        if rest:
            out += _block(rest, indent + "  ")
    if code is not None:
        out.append(f"{indent}Code ({code.language}):")
        out += _block(code.text, indent + "  ")
    return out


_entry_lines: weakref.WeakKeyDictionary[Entry, list[str]] = weakref.WeakKeyDictionary()


def entry_text(entry: Entry) -> list[str]:
    """The text lines of one entry (remembered: entries are reused with their evidence)."""
    lines = _entry_lines.get(entry)
    if lines is None:
        head = [f"  - {_tag(entry)} {entry.heading}"]
        lines = _entry_lines[entry] = head + _detail_lines(entry.details, entry.code, "    ")
    return lines


def finding_text(finding: Finding) -> str:
    return f"- {finding.label}: {finding.why}"


def render_text(p: Prompt) -> str:
    grounded = p.mode == "grounded"
    out = [OPENING.format(site=p.site_name), f"Object: {p.kind} - {p.title}"]
    if grounded:
        out += _detail_lines(p.object_details, p.object_code, "  ")
    out += [
        f"Object key: {p.key}",
        f"Context: {p.context_title}",
        f"Anchor id: {p.anchor}",
        f"Open question: {p.question}",
        "Evidence to inspect:",
    ]
    for line in p.evidence:
        out.append(f"- {line.text}")
        for entry in line.entries:
            out += entry_text(entry)
        if grounded and not line.entries:
            out.append(f"  - {_empty(line)}")
    out.append("What would resolve this:")
    out += [f"- {line}" for line in p.resolves]
    if grounded:
        out.append(VERIFIED_HEADING)
        out += [finding_text(f) for f in p.verified] or [NOTHING_VERIFIED]
        out.append(UNVERIFIED_HEADING)
        out += [finding_text(f) for f in p.unverified] or ["- none"]
        out += _note_text(p)
        if p.dropped:
            out.append(DROPPED + _dropped_text(p, dropped_label))
        if p.truncated:
            out.append(CUT + "; ".join(p.truncated))
        out.append(UNSETTLED)
    out.append(ANSWER_AS)
    return "\n".join(out)


def _note_text(p: Prompt) -> list[str]:
    if p.note is None:
        return []
    out = []
    if p.note.text.strip():
        out.append("My own note on this object:")
        out += _block(p.note.text, "  ")
    if p.note.next_action.strip():
        out.append(f"My next action: {p.note.next_action.strip()}")
    return out


# Markdown ---------------------------------------------------------------------------------


def _code_span(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fence(code: str, language: str, indent: str) -> list[str]:
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * (longest + 1)
    return [f"{indent}{fence}{language}", *_block(code, indent), f"{indent}{fence}"]


def _md_detail(detail: str, indent: str) -> list[str]:
    first, _, rest = detail.partition("\n")
    label, sep, value = first.partition(": ")
    if sep and label == "LaTeX":
        value = _code_span(value)
    if sep:
        line = f"{indent}- **{label}:** {value}"
    else:
        line = f"{indent}- **{first}**" if first.endswith(":") else f"{indent}- {first}"
    if not rest:
        return [line]
    return [line, "", *_fence(rest, "text", indent + "  ")]


def _md_details(details: Iterable[str], code: Code | None, indent: str) -> list[str]:
    out = []
    for detail in details:
        out += _md_detail(detail, indent)
    if code is not None:
        out += ["", *_fence(code.text, code.language, indent)]
    return out


def _md_entry(entry: Entry) -> list[str]:
    key = entry.key
    heading = entry.heading.replace(key, _code_span(key), 1)
    return [f"  - **{_tag(entry)}** {heading}", *_md_details(entry.details, entry.code, "    ")]


def render_markdown(p: Prompt) -> str:
    grounded = p.mode == "grounded"
    out = [
        OPENING.format(site=p.site_name),
        "",
        f"- **Object:** {p.kind} - {p.title}",
    ]
    if grounded:
        out += _md_details(p.object_details, p.object_code, "  ")
    out += [
        f"- **Object key:** {_code_span(p.key)}",
        f"- **Context:** {p.context_title}",
        f"- **Anchor id:** {_code_span(p.anchor)}",
        "",
        f"**Open question:** {p.question}",
        "",
        "**Evidence to inspect:**",
        "",
    ]
    for line in p.evidence:
        out.append(f"- {line.text}")
        for entry in line.entries:
            out += _md_entry(entry)
        if grounded and not line.entries:
            out.append(f"  - {_empty(line)}")
    out += ["", "**What would resolve this:**", "", *[f"- {line}" for line in p.resolves], ""]
    if grounded:
        out += _md_findings(VERIFIED_HEADING, p.verified, NOTHING_VERIFIED)
        out += _md_findings(UNVERIFIED_HEADING, p.unverified, "- none")
        out += _md_note(p)
        if p.dropped:
            out += [DROPPED + _dropped_text(p, lambda e: _code_span(dropped_label(e))), ""]
        if p.truncated:
            out += [CUT + "; ".join(p.truncated), ""]
        out += [UNSETTLED, ""]
    out.append(ANSWER_AS)
    return "\n".join(out)


def _md_findings(heading: str, findings: tuple[Finding, ...], empty: str) -> list[str]:
    lines = [f"- {_code_span(f.label)}: {f.why}" for f in findings] or [empty]
    return [f"**{heading}**", "", *lines, ""]


def _md_note(p: Prompt) -> list[str]:
    if p.note is None:
        return []
    out = []
    if p.note.text.strip():
        out += ["**My own note on this object:**", ""]
        out += [f"> {line}" if line else ">" for line in p.note.text.rstrip("\n").split("\n")]
        out.append("")
    if p.note.next_action.strip():
        out += [f"**My next action:** {p.note.next_action.strip()}", ""]
    return out


# JSON -------------------------------------------------------------------------------------


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "kind": entry.kind,
        "relation": entry.relation,
        "status": "verified" if entry.verified else "unverified",
        "why": entry.why,
        "rank": entry.rank,
        "heading": entry.heading,
        "details": list(entry.details),
        "record": entry.record,
    }


def _finding_json(finding: Finding) -> dict[str, str]:
    return {"key": finding.key, "label": finding.label, "why": finding.why}


def render_json(p: Prompt) -> dict[str, Any]:
    """The structured prompt plus ``messages`` for a chat API (system, then user)."""
    text = render_text(p)
    system = ANSWER_AS if p.mode == "compact" else f"{ANSWER_AS} {UNSETTLED}"
    note = None
    if p.note is not None:
        note = {"key": p.note.key, "text": p.note.text, "next_action": p.note.next_action,
                "version": p.note.version}  # fmt: skip
    return {
        "key": p.key,
        "kind": p.kind,
        "mode": p.mode,
        "site_name": p.site_name,
        "title": p.title,
        "context": p.context_title,
        "anchor": p.anchor,
        "object": p.object_record,
        "question": {"text": p.question, "source": p.question_source},
        "evidence": [
            {
                "line": line.text,
                "authored": line.authored,
                "items": [_entry_json(e) for e in line.entries],
            }
            for line in p.evidence
        ],
        "resolves": list(p.resolves),
        "verified": [_finding_json(f) for f in p.verified],
        "unverified": [_finding_json(f) for f in p.unverified],
        "note": note,
        "dropped": [{"key": e.key, "kind": e.kind, "relation": e.relation} for e in p.dropped],
        "truncated": list(p.truncated),
        "budget_chars": p.budget_chars,
        "chars": len(text),
        "prompt": text,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": text},
        ],
    }


def render(p: Prompt, fmt: str) -> str | dict[str, Any]:
    if fmt == "json":
        return render_json(p)
    if fmt == "markdown":
        return render_markdown(p)
    return render_text(p)
