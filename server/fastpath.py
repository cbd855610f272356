"""Cached answers served before routing: the cheap request path for assembled pages.

Routing and dependency resolution cost more than sending a cached page does. This middleware
sits innermost (after the Host check, admission and the security headers) and answers a GET
whose page is in the cache at the current revision straight from the cache, with exactly the
response its route would send. Anything else (a miss, a revision not read recently, a query it
does not know, team mode for prompts) goes to the routes, which build and cache the page. The
whole graph and, in team mode, the concept page in HTML show the reader's own marks (and the
review form to reviewers): their routes cache them per reader. In local mode there is one
reader, whose variant of the concept page is cached per revision (marks bump it).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.concepts.routes import concept_cache_key
from server.objects.routes import object_cache_key
from server.pagecache import PageCache
from server.pages.render import page_response
from server.pages.routes import concept_html_cache_key, variant_cache_key
from server.people.identity import LOCAL_PERSON
from server.tutor.routes import MAX_QUESTION, prompt_cache_key

CONCEPT_JSON = re.compile(r"/api/concepts/([^/]+)/([^/]+)")
CONCEPT_HTML = re.compile(r"/concepts/([^/]+)/([^/]+)")
OBJECTS = "/api/objects/"
PROMPT = "/prompt"
MODES = frozenset({"grounded", "compact"})
FORMATS = frozenset({"text", "markdown", "json"})


class CachedAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            response = self.cached(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def cached(self, scope: Scope) -> Response | None:
        state = scope["app"].state
        cache: PageCache | None = getattr(state, "pages", None)
        if cache is None or not cache.revision_is_fresh():
            return None
        path: str = scope["path"]
        if path.startswith(OBJECTS):
            key = path[len(OBJECTS) :]
            if key.endswith(PROMPT):
                return self.prompt(cache, state, key[: -len(PROMPT)], scope["query_string"])
            return json_answer(cache.get(object_cache_key(key))) if key else None
        found = CONCEPT_JSON.fullmatch(path)
        if found is not None:
            return json_answer(cache.get(concept_cache_key(*found.groups())))
        found = CONCEPT_HTML.fullmatch(path)
        if found is not None and state.settings.mode == "local":
            context, slug = found.groups()
            variant = cache.get(variant_cache_key(context, slug))
            if variant is None:
                return None
            page = cache.get(concept_html_cache_key(context, slug, variant))
            return None if page is None else page_response(*page)
        return None

    def prompt(self, cache: PageCache, state: Any, key: str, query: bytes) -> Response | None:
        if not key or state.settings.mode != "local":
            return None  # team mode: the person comes from a credential, read by the route
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        except ValueError:
            return None
        options = dict(pairs)
        if len(options) != len(pairs) or not set(options) <= {"mode", "format", "question"}:
            return None
        mode, fmt = options.get("mode", "grounded"), options.get("format", "text")
        question = options.get("question")
        if mode not in MODES or fmt not in FORMATS:
            return None
        if question is not None and len(question) > MAX_QUESTION:
            return None
        learner = LOCAL_PERSON.name
        note: Hashable = None
        if mode == "grounded":
            note = cache.note_version_is_known(learner, key)
            if note is None:
                return None
        found = cache.get(prompt_cache_key(key, mode, fmt, question, learner, note))
        if found is None:
            return None
        body, media_type = found
        return Response(body, media_type=media_type)


def json_answer(body: bytes | None) -> Response | None:
    return None if body is None else Response(body, media_type="application/json")
