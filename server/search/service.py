"""Ranked full-text search with escaped snippets, in the database's own index.

Query text is hostile: it is cut to ``MAX_QUERY_CHARS``, split into at most ``MAX_TERMS``
words (letters and digits only), and each word is handed to the engine as a quoted term, so
FTS5 syntax (``NEAR``, ``*``, quotes, column filters) and tsquery operators are plain text and
never an error. The last word also matches as a prefix when it is long enough.
"""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from server.errors import InvalidInput
from server.search.index import MARK_END, MARK_START

MAX_QUERY_CHARS = 500
MAX_TERMS = 8
MAX_TERM_CHARS = 64
MIN_PREFIX_CHARS = 3
MAX_RESULTS = 50
WORD = re.compile(r"[^\W_]+")

SQLITE_SEARCH = text(
    "SELECT d.key, d.kind, d.title, d.url,"
    " snippet(search_fts, -1, :start, :end, ' … ', 24) AS snippet,"
    " bm25(search_fts, 8.0, 1.0) AS rank"
    " FROM search_fts JOIN search_document AS d ON d.id = search_fts.rowid"
    " WHERE search_fts MATCH :query ORDER BY rank, d.key LIMIT :limit"
)
POSTGRES_SEARCH = text(
    "WITH q AS (SELECT to_tsquery('english', :query) AS query),"
    " top AS (SELECT d.id, ts_rank_cd(d.tsv, q.query) AS rank FROM search_document AS d, q"
    " WHERE d.tsv @@ q.query ORDER BY rank DESC, d.key LIMIT :limit)"
    " SELECT d.key, d.kind, d.title, d.url,"
    " ts_headline('english', d.body, q.query, :options) AS snippet, top.rank"
    " FROM top JOIN search_document AS d ON d.id = top.id, q ORDER BY top.rank DESC, d.key"
)
HEADLINE = (
    f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords=30, MinWords=12, '
    'MaxFragments=2, FragmentDelimiter=" … "'
)


def terms_of(query: str) -> list[str]:
    """The words of ``query`` the engine is asked for: bounded in number and length."""
    words: list[str] = []
    for word in WORD.findall(query[:MAX_QUERY_CHARS]):
        word = word[:MAX_TERM_CHARS].lower()
        if word not in words:
            words.append(word)
        if len(words) == MAX_TERMS:
            break
    return words


def snippet_html(snippet: str) -> str:
    """The snippet escaped, with only the engine's hit markers made into ``<mark>``."""
    escaped = html.escape(snippet, quote=True)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def search(session: Session, query: str, limit: int = 20) -> dict[str, Any]:
    words = terms_of(query)
    limit = max(1, min(limit, MAX_RESULTS))
    rows: list[Any] = []
    if words:
        prefix = len(words[-1]) >= MIN_PREFIX_CHARS
        if session.get_bind().dialect.name == "postgresql":
            parts = [*words[:-1], words[-1] + (":*" if prefix else "")]
            params = {"query": " & ".join(parts), "options": HEADLINE, "limit": limit}
            statement = POSTGRES_SEARCH
        else:
            parts = [f'"{w}"' for w in words]
            parts[-1] += "*" if prefix else ""
            params = {"query": " ".join(parts), "start": MARK_START, "end": MARK_END}
            params["limit"] = limit
            statement = SQLITE_SEARCH
        try:
            rows = list(session.execute(statement, params))
        except DBAPIError as error:  # pragma: no cover - the terms leave the engine no syntax
            raise InvalidInput(
                "the search query could not be run", [{"loc": ["query", "q"]}]
            ) from error
    data = [
        {
            "key": row.key,
            "kind": row.kind,
            "title": row.title,
            "url": row.url,
            "snippet": row.snippet.replace(MARK_START, "").replace(MARK_END, ""),
            "snippet_html": snippet_html(row.snippet),
            "rank": round(float(row.rank), 6),
        }
        for row in rows
    ]
    return {"query": query[:MAX_QUERY_CHARS], "terms": words, "data": data, "count": len(data)}
