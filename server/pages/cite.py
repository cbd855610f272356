"""The "cite this" block of an object page: its key, its permalink and a BibTeX entry for the
page itself (not for its sources: those have their own entries)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

BIBTEX_SPECIAL = re.compile(r"([\\{}%&#$_^~])")
ESCAPES = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def bibtex_escape(text: str) -> str:
    """A value safe inside BibTeX braces: TeX's special characters escaped, one line."""
    flat = " ".join(text.split())
    return BIBTEX_SPECIAL.sub(lambda m: ESCAPES.get(m.group(1), "\\" + m.group(1)), flat)


def citation_key(key: str) -> str:
    """``concept:a/b-c`` -> ``readingroom-a-b-c`` (BibTeX keys avoid ':' and '/')."""
    return "readingroom-" + re.sub(r"[^a-z0-9]+", "-", key.partition(":")[2]).strip("-")


def cite_block(
    request: Request, page: dict[str, Any], *, today: datetime | None = None
) -> dict[str, str]:
    site = request.app.state.settings.site_name
    permalink = str(request.base_url).rstrip("/") + page["url"]
    moment = today or datetime.now(UTC)
    entry = "\n".join([
        f"@misc{{{citation_key(page['key'])},",
        f"  title = {{{bibtex_escape(page['title'])}}},",
        f"  author = {{{{{bibtex_escape(site)}}}}},",
        f"  howpublished = {{\\url{{{permalink}}}}},",
        f"  note = {{Reading room object {bibtex_escape(page['key'])}, "
        f"accessed {moment.date().isoformat()}}},",
        f"  year = {{{moment.year}}}",
        "}",
    ])  # fmt: skip
    return {"key": page["key"], "permalink": permalink, "bibtex": entry}
