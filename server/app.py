"""``create_app(settings)``: the lifespan owns the engine; one handler renders every error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.config import Settings
from server.errors import Moved, ReadingRoomError, error_responses
from server.limits import BodyLimit
from server.pagecache import PageCache, invalidate_on_commit
from server.witnesses.background import start_background_check

log = logging.getLogger("readingroom")

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    422: "invalid_input",
}


def prepare_store(settings: Settings) -> Any:
    """Create the engine, migrate, and ingest the content tree when asked to."""
    from server import migrations
    from server.db import make_engine, unit_of_work
    from server.ingest.service import ingest

    engine = make_engine(settings.database_url)
    migrations.ensure_current(engine)
    if settings.ingest_on_start and settings.content_dir.is_dir():
        with unit_of_work(engine) as session:
            report = ingest(session, settings.content_dir)
        log.info("content: %s", report.summary())
    return engine


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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = prepare_store(settings)
        app.state.engine = engine
        app.state.pages = PageCache(engine)
        app.state.sandbox = await run_in_threadpool(check_sandbox)
        stop_invalidating = invalidate_on_commit(app.state.pages)
        checker = None
        if settings.check_witnesses_on_start and app.state.sandbox["available"]:
            checker = start_background_check(engine)
        try:
            yield
        finally:
            if checker is not None:
                thread, stop = checker
                stop.set()
                thread.join(timeout=30)
            stop_invalidating()
            engine.dispose()

    app = FastAPI(
        title="Reading room",
        version="0.1.0",
        summary="Concepts, equations, code witnesses, sources, claims and reviews.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    include_routers(app)
    return app


def include_routers(app: FastAPI) -> None:
    from server.claims.routes import router as claims
    from server.concepts.routes import router as concepts
    from server.demos.routes import router as demos
    from server.health import router as health
    from server.notes.routes import router as notes
    from server.objects.routes import router as objects
    from server.pages.routes import router as pages
    from server.people.routes import pages as login_pages
    from server.people.routes import router as people
    from server.tutor.routes import router as prompts
    from server.witnesses.routes import router as witnesses

    # prompts before objects: /api/objects/{key}/prompt must win over /api/objects/{key}
    routers = (health, concepts, prompts, objects, claims, notes, demos, witnesses, people, pages)
    for router in (*routers, login_pages):
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
        return error_response(request, error.status_code, error.code, error.message, error.details)

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
        return error_response(request, error.status_code, code, message, [])

    @app.exception_handler(Exception)
    async def on_crash(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error", "internal server error", [])
