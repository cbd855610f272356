"""``create_app(settings)``: the lifespan owns the engine; one handler renders every error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

from server.config import Settings
from server.errors import Busy, Moved, ReadingRoomError, error_responses
from server.fastpath import CachedAnswers, Replies
from server.headers import SecurityHeaders
from server.health import HealthMonitor
from server.hosts import HostAllowList, allowed_hosts
from server.limits import HEALTH_LANE, BodyLimit, ConcurrencyLimit, Lane
from server.pagecache import PageCache, invalidate_on_commit
from server.prepared import COMPRESS_LEVEL
from server.witnesses.background import start_background_check
from server.witnesses.jobs import (
    BackgroundWorker,
    WorkerOptions,
    defer_start_up_check,
    job_app,
    uses_job_queue,
)
from server.witnesses.judge_pool import close_default_pool
from server.witnesses.queue import RunQueue, WitnessRunner, default_workers

log = logging.getLogger("readingroom")

HTTP_CODES = {
    400: "bad_request",
    408: "request_timeout",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    422: "invalid_input",
    503: "busy",
}
# Connections beyond the admitted requests: the health lane, the start-up check, a spare.
POOL_RESERVE = HEALTH_LANE + 4
RUNS_LANE_SPARE = 8  # run requests beyond the queue's room: the queue refuses them itself


def prepare_store(settings: Settings) -> Any:
    """Create the engine, migrate, and ingest the content tree when asked to."""
    from server import migrations
    from server.db import make_engine, unit_of_work
    from server.ingest.service import ingest
    from server.startlock import startup_lock

    engine = make_engine(settings.database_url, connections=pool_connections(settings))
    with startup_lock(engine):  # other processes starting on this store wait here
        migrations.ensure_current(engine)
        if settings.ingest_on_start and settings.content_dir.is_dir():
            with unit_of_work(engine) as session:
                report = ingest(session, settings.content_dir)
            log.info("content: %s", report.summary())
    return engine


def run_requests(settings: Settings) -> int:
    """Witness-run requests admitted at once: the run queue's workers and backlog, and a few."""
    workers = settings.witness_workers or default_workers()
    return workers + settings.witness_queue_backlog + RUNS_LANE_SPARE


def pool_connections(settings: Settings) -> int:
    """Database connections the server may hold at once: one per admitted request."""
    return settings.admitted_requests() + run_requests(settings) + POOL_RESERVE


def check_sandbox() -> dict[str, Any]:
    """Probe witness confinement once at start-up; runs refuse rather than run unconfined."""
    from server.witnesses.sandbox import probe_confinement, unconfined_allowed

    if unconfined_allowed():
        log.warning("witnesses run WITHOUT the sandbox (READINGROOM_UNSAFE_UNCONFINED_WITNESSES)")
        return {"available": False, "unsafe_unconfined": True, "message": "sandbox switched off"}
    status = probe_confinement()
    if not status.available:
        log.warning("witness sandbox unavailable: %s", status.message)
    return {"available": status.available, "unsafe_unconfined": False, "message": status.message}


class ReadingRoom(FastAPI):
    """The app, with the cached answers the stack has sent before answered in front of it."""

    replies: Replies | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.replies is None:
            await super().__call__(scope, receive, send)
            return
        await self.replies(scope, receive, send, super().__call__)


def create_app(settings: Settings | None = None, runner: WitnessRunner | None = None) -> FastAPI:
    """The app; ``runner`` replaces the sandbox behind the run queue (tests use a stand-in)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every admitted request may hold a thread: sync routes never wait for one.
        anyio.to_thread.current_default_thread_limiter().total_tokens = pool_connections(settings)
        engine = prepare_store(settings)
        app.state.engine = engine
        app.state.pages = PageCache(
            engine, poll_s=settings.page_cache_poll_s, max_entries=settings.page_cache_entries
        )
        app.state.sandbox = await run_in_threadpool(check_sandbox)
        app.state.health = await run_in_threadpool(HealthMonitor(engine).start)
        runs = RunQueue(
            runner,
            workers=settings.witness_workers or None,
            backlog=settings.witness_queue_backlog,
            background_share=settings.witness_background_workers,
            typical_run_s=min(settings.witness_timeout_s, 5.0),
        ).start()
        app.state.runs = runs
        stop_invalidating = invalidate_on_commit(app.state.pages)
        checker = None
        job_worker = None
        can_run = app.state.sandbox["available"] and runner is None
        if uses_job_queue(settings.database_url):
            if runner is None:  # reruns of stored witnesses go through the database queue
                app.state.jobs = job_app(settings.database_url)
                await app.state.jobs.open_async()
            if settings.check_witnesses_on_start and can_run:
                await run_in_threadpool(defer_start_up_check, settings.database_url, engine)
            if settings.serve_job_workers and can_run:
                options = WorkerOptions(concurrency=settings.serve_job_workers)
                job_worker = BackgroundWorker(settings.database_url, engine, options)
                await run_in_threadpool(job_worker.start)
        elif settings.check_witnesses_on_start and app.state.sandbox["available"]:
            checker = start_background_check(engine, runs)
        try:
            yield
        finally:
            if checker is not None:
                checker[1].set()
            if job_worker is not None:
                await run_in_threadpool(job_worker.stop)
            if getattr(app.state, "jobs", None) is not None:
                await app.state.jobs.close_async()
            await run_in_threadpool(runs.close)
            if checker is not None:
                checker[0].join(timeout=30)
            await run_in_threadpool(close_default_pool)  # no run is left to take a judge
            stop_invalidating()
            app.state.health.stop()
            engine.dispose()

    app = ReadingRoom(
        title="Reading room",
        version="0.1.0",
        summary="Concepts, equations, code witnesses, sources, claims and reviews.",
        lifespan=lifespan,
        docs_url=None,  # served by server.docs, from this origin only
        redoc_url=None,
    )
    app.state.settings = settings
    # The last added runs first: headers on every answer, then Host, admission, body; pages,
    # JSON and CSS are gzipped for clients that accept it (with Vary: Accept-Encoding); and
    # innermost the cached pages, answered without routing.
    app.add_middleware(CachedAnswers)
    app.add_middleware(
        GZipMiddleware, minimum_size=settings.compress_min_bytes, compresslevel=COMPRESS_LEVEL
    )
    app.add_middleware(BodyLimit, timeout_s=settings.body_timeout_s)
    admitted, hosts = Lane(settings.admitted_requests()), allowed_hosts(settings)
    app.add_middleware(ConcurrencyLimit, limit=admitted, runs_limit=run_requests(settings))
    app.add_middleware(HostAllowList, allowed=hosts)
    app.add_middleware(SecurityHeaders)
    # In front of it all: what the stack sent for a cached answer, sent again.
    app.replies = Replies(app.state, hosts, admitted)
    install_error_handlers(app)
    include_routers(app)
    return app


def include_routers(app: FastAPI) -> None:
    from server.claims.routes import router as claims
    from server.concepts.routes import router as concepts
    from server.demos.routes import router as demos
    from server.docs.routes import router as docs
    from server.health import router as health
    from server.learning.pages import router as learning_pages
    from server.learning.routes import router as learning
    from server.notes.routes import router as notes
    from server.objects.routes import router as objects
    from server.pages.routes import router as pages
    from server.people.routes import pages as login_pages
    from server.people.routes import router as people
    from server.search.routes import router as search
    from server.sources.routes import router as sources
    from server.tutor.routes import router as prompts
    from server.witnesses.routes import router as witnesses

    # prompts before objects: /api/objects/{key}/prompt must win over /api/objects/{key};
    # sources before claims: /api/sources/{id}.bib must win over /api/sources/{id}
    routers = (
        health, docs, concepts, prompts, objects, sources, claims, notes, learning, demos,
        witnesses, search,
    )  # fmt: skip
    for router in (*routers, people, pages, learning_pages, login_pages):
        app.include_router(router, responses=error_responses())  # the one error shape
    static = Path(__file__).resolve().parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")


def error_response(
    request: Request, status: int, code: str, message: str, details: list[Any]
) -> Response:
    """The one error shape for the API; a friendly page for page routes."""
    if not request.url.path.startswith("/api") and status != 308:
        from server.pages.render import render_page

        heading = code.replace("_", " ").capitalize()
        context = {"status": status, "heading": heading, "message": message, "title": heading}
        return render_page(request, "error.html", context, None, status=status)
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status)


def _moved_location(request: Request, error: Moved) -> str:
    path = request.url.path
    old_path = error.old_key.partition(":")[2]
    new_path = error.new_key.partition(":")[2]
    for old, new in (
        (quote(error.old_key, safe="/"), quote(error.new_key, safe="/")),
        (error.old_key, error.new_key),
        (old_path, new_path),
    ):
        if old in path:
            path = path.replace(old, new, 1)
            break
    return path + (f"?{request.url.query}" if request.url.query else "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReadingRoomError)
    async def on_error(request: Request, error: ReadingRoomError) -> Response:
        if isinstance(error, Moved):
            response = error_response(request, 308, error.code, error.message, error.details)
            response.headers["Location"] = _moved_location(request, error)
            return response
        response = error_response(
            request, error.status_code, error.code, error.message, error.details
        )
        response.headers.update(error.headers())
        return response

    @app.exception_handler(PoolTimeout)
    async def on_pool_timeout(request: Request, error: PoolTimeout) -> Response:
        # The pool is sized to the admitted requests; if it still runs dry, degrade.
        busy = Busy("no database connection is free; try again", retry_after_s=2)
        return await on_error(request, busy)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        details = [
            {"loc": [str(p) for p in item.get("loc", ())], "message": item.get("msg", "")}
            for item in error.errors()
        ]
        return error_response(request, 422, "invalid_input", "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(error.status_code, "http_error")
        message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
        response = error_response(request, error.status_code, code, message, [])
        response.headers.update(error.headers or {})  # e.g. Allow on 405
        return response

    @app.exception_handler(Exception)
    async def on_crash(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error", "internal server error", [])
