"""The API documentation pages and their assets, all same-origin."""

from __future__ import annotations

import html
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from server.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS = Path(__file__).resolve().parent / "assets"
BUNDLED = {  # name -> media type, from the fastapi-offline package
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
OURS = {"swagger-init.js": "text/javascript"}
# Swagger UI and ReDoc set inline styles and ReDoc searches in a worker started from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" type="image/png" href="/docs/assets/favicon.png">'
        f"{head}</head>{body}</html>\n"
    )
    response = HTMLResponse(document)
    response.headers["Content-Security-Policy"] = DOCS_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    openapi = html.escape(request.app.openapi_url or "/openapi.json")
    return _page(
        f"{request.app.title}: API",
        '<link rel="stylesheet" href="/docs/assets/swagger-ui.css">',
        f'<body data-openapi="{openapi}"><div id="swagger-ui"></div>'
        '<script src="/docs/assets/swagger-ui-bundle.js"></script>'
        '<script src="/docs/assets/swagger-init.js"></script></body>',
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    openapi = html.escape(request.app.openapi_url or "/openapi.json")
    return _page(
        f"{request.app.title}: API reference",
        "",
        f'<body><redoc spec-url="{openapi}"></redoc>'
        '<script src="/docs/assets/redoc.standalone.js"></script></body>',
    )


# ReDoc's sidebar shows a logo from its CDN: the bundle we serve points it at our own icon.
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    bundle = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_CDN_LOGO, b"/docs/assets/favicon.png")


@router.get("/docs/assets/{name}", response_model=None)
def asset(name: str) -> FileResponse | Response:
    if name == "redoc.standalone.js":
        response: FileResponse | Response = Response(redoc_bundle(), media_type="text/javascript")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response
    if name in OURS:
        path, media_type = ASSETS / name, OURS[name]
    elif name in BUNDLED:
        path = Path(str(files("fastapi_offline") / "static" / name))
        media_type = BUNDLED[name]
    else:
        raise NotFound(f"no documentation asset is called '{name}'")
    response = FileResponse(path, media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
