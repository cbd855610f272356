"""Cached answers served before routing: the cheap request path for assembled pages.

Routing and dependency resolution cost more than sending a cached page does. The
:class:`CachedAnswers` middleware sits innermost (after the Host check, admission and the
security headers) and answers a GET whose page is in the cache at the current revision
straight from the cache, with exactly the response its route would send. Anything else (a
miss, a revision not read recently, a query it does not know, team mode for prompts) goes to
the routes, which build and cache the page. The whole graph and, in team mode, the concept
page in HTML show the reader's own marks (and the review form to reviewers): their routes
cache them per reader. In local mode there is one reader, whose variant of the concept page
is cached per revision (marks bump it).

The middleware stack still costs more than the answer on a small page, so :class:`Replies`,
in front of the stack, keeps what the whole stack sent for a cached answer (every header the
middleware added, gzipped or not as the client asked) with the cache entry, and sends it
again for the next request that finds the same entry: one message for the headers, one for
the body. It checks the Host and counts the request in the admission lane as the middleware
does; whatever it cannot answer so (a Host not served, a full lane, a first answer) goes
through the stack, which refuses or answers it as it always has. A hit answered so skips
FastAPI's own telemetry: none is configured here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import State
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.concepts.routes import concept_cache_key
from server.hosts import host_name
from server.limits import Lane
from server.objects.routes import object_cache_key
from server.pagecache import Entry, PageCache
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
ANSWERED = "readingroom.answered"  # in the scope: the entry CachedAnswers answered from
START, BODY = "http.response.start", "http.response.body"
REPLY = "reply"  # in an entry's derived values, per whether the answer was gzipped

# A cached answer: its entry, and how to make the response its route sends from the value.
Found = tuple[Entry, Callable[[Any], Response]]


def find(state: State, scope: Scope) -> Found | None:
    """The cached answer to a GET, if its page is cached at a recently read revision."""
    cache: PageCache | None = getattr(state, "pages", None)
    if cache is None or not cache.revision_is_fresh():
        return None
    path: str = scope["path"]
    if path.startswith(OBJECTS):
        key = path[len(OBJECTS) :]
        if key.endswith(PROMPT):
            return find_prompt(cache, state, key[: -len(PROMPT)], scope["query_string"])
        return found(cache.entry(object_cache_key(key)), json_response) if key else None
    match = CONCEPT_JSON.fullmatch(path)
    if match is not None:
        return found(cache.entry(concept_cache_key(*match.groups())), json_response)
    match = CONCEPT_HTML.fullmatch(path)
    if match is not None and state.settings.mode == "local":
        context, slug = match.groups()
        variant = cache.get(variant_cache_key(context, slug))
        if variant is None:
            return None
        entry = cache.entry(concept_html_cache_key(context, slug, variant))
        return found(entry, lambda page: page_response(*page))
    return None


def find_prompt(cache: PageCache, state: State, key: str, query: bytes) -> Found | None:
    if not key or state.settings.mode != "local":
        return None  # team mode: the person comes from a credential, read by the route
    options: dict[str, str] = {}
    if query:
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
    entry = cache.entry(prompt_cache_key(key, mode, fmt, question, learner, note))
    return found(entry, lambda value: Response(value[0], media_type=value[1]))


def found(entry: Entry | None, respond: Callable[[Any], Response]) -> Found | None:
    return None if entry is None else (entry, respond)


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def is_plain_get(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path")


class CachedAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_plain_get(scope):
            answer = find(scope["app"].state, scope)
            if answer is not None:
                entry, respond = answer
                scope[ANSWERED] = entry
                await respond(entry.value)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def cached(self, scope: Scope) -> Response | None:
        """The response a cached page is answered with, or None when it goes to the route."""
        answer = find(scope["app"].state, scope)
        return None if answer is None else answer[1](answer[0].value)


@dataclass(frozen=True)
class Reply:
    """What the whole stack sent for a cached answer: status, every header, the body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # a tuple: sent again and again, never changed
    body: bytes


def accepts_gzip(scope: Scope) -> bool:
    """Whether the compression middleware gzips for this request (it reads the first
    Accept-Encoding header)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False


class Replies:
    """Cached answers sent again as the whole stack sent them, in front of the stack."""

    def __init__(self, state: State, allowed_hosts: frozenset[str], lane: Lane) -> None:
        self.state = state
        self.allowed_hosts = allowed_hosts
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send, stack: ASGIApp) -> None:
        lane = self.lane
        answer = None
        if self.may_answer(scope):
            answer = find(self.state, scope)
        if answer is None:  # the stack refuses it, or its route answers it
            await stack(scope, receive, send)
            return
        entry = answer[0]
        gzipped = accepts_gzip(scope)
        reply: Reply | None = entry.derived.get((REPLY, gzipped))
        if reply is None:
            await self.record(entry, gzipped, scope, receive, send, stack)
            return
        lane.in_flight += 1  # sending may wait for a slow reader: it counts as the stack does
        try:
            await send({"type": START, "status": reply.status, "headers": reply.headers})
            await send({"type": BODY, "body": reply.body})
        finally:
            lane.in_flight -= 1

    def may_answer(self, scope: Scope) -> bool:
        """A plain GET for a Host we serve, with room in the lane: else the stack refuses it."""
        lane = self.lane
        return (
            is_plain_get(scope)
            and lane.in_flight < lane.limit
            and host_name(scope) in self.allowed_hosts
        )

    async def record(
        self, entry: Entry, gzipped: bool, scope: Scope, receive: Receive, send: Send,
        stack: ASGIApp,
    ) -> None:  # fmt: skip
        """Send through the stack and keep what it sent, if the cached answer was it."""
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)
            await send(message)

        await stack(scope, receive, keep)
        if scope.get(ANSWERED) is not entry or len(sent) != 2:
            return
        start, body = sent
        if (
            start["type"] != START
            or start["status"] != 200
            or start.get("trailers", False)
            or body["type"] != BODY
            or body.get("more_body", False)
        ):
            return
        headers = tuple((bytes(name), bytes(value)) for name, value in start.get("headers", []))
        entry.derived[REPLY, gzipped] = Reply(200, headers, bytes(body.get("body", b"")))
