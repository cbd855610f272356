"""A BibTeX entry from a source's fields.

Text fields are escaped for LaTeX (``\\ { } & % $ # _ ~ ^``), so a title or venue can never
end a field or start a command. ``url`` and ``doi`` are verbatim fields in BibTeX's url
package and biblatex: they are kept as written except for the characters that would break
the entry (braces, backslashes, whitespace), which are percent-encoded.
"""

from __future__ import annotations

import re
from typing import Any

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
SPECIAL = re.compile("|".join(re.escape(c) for c in LATEX_SPECIALS))
VERBATIM_UNSAFE = re.compile(r"[{}\\\s%]")
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:.\-]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
JOURNAL = re.compile(r"\bjournal\b|\btransactions\b|\bletters\b", re.IGNORECASE)
PROCEEDINGS = re.compile(
    r"conference|proceedings|workshop|symposium|advances in neural", re.IGNORECASE
)
PUBLISHER = re.compile(r"\bpress\b|\bpublish", re.IGNORECASE)


def escape(text: str) -> str:
    """``text`` as a safe BibTeX field value (one line, LaTeX specials escaped)."""
    flat = " ".join(CONTROL.sub(" ", text).split())
    return SPECIAL.sub(lambda m: LATEX_SPECIALS[m.group(0)], flat)


def verbatim(text: str) -> str:
    return VERBATIM_UNSAFE.sub(lambda m: f"%{ord(m.group(0)):02X}", text.strip())


def cite_key(source_id: str) -> str:
    return KEY_UNSAFE.sub("-", source_id) or "source"


def entry_type(venue: str | None) -> tuple[str, str | None]:
    """The entry type and the field the venue goes in."""
    if not venue:
        return "misc", None
    if JOURNAL.search(venue):
        return "article", "journal"
    if PROCEEDINGS.search(venue):
        return "inproceedings", "booktitle"
    if PUBLISHER.search(venue):
        return "book", "publisher"
    return "misc", "howpublished"


def bibtex_entry(source: dict[str, Any]) -> str:
    """One entry from a source as the API shapes it (``id``, ``authors``, ``title``...)."""
    kind, venue_field = entry_type(source.get("venue"))
    fields: list[tuple[str, str]] = [
        ("author", " and ".join(escape(a) for a in source.get("authors") or [])),
        ("title", "{" + escape(source["title"]) + "}"),  # keeps its capitals
        ("year", str(int(source["year"]))),
    ]
    if venue_field:
        fields.append((venue_field, escape(source["venue"])))
    if source.get("doi"):
        fields.append(("doi", verbatim(source["doi"])))
    if source.get("arxiv"):
        fields += [("eprint", verbatim(source["arxiv"])), ("archivePrefix", "arXiv")]
    if source.get("url"):
        fields.append(("url", verbatim(source["url"])))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{kind}{{{cite_key(source['id'])},\n{body}\n}}\n"


def bibliography(sources: list[dict[str, Any]]) -> str:
    return "\n".join(bibtex_entry(s) for s in sources)
