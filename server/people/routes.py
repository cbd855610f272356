"""The login page, logout, and who am I. Tokens are for the API; the cookie is for pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from server.deps import SessionDep, SettingsDep
from server.models import User
from server.pages.render import render_page
from server.people import accounts, sessions, throttle
from server.people.deps import Admin, CurrentPerson, cross_site_reason
from server.people.identity import Person
from server.people.sessions import COOKIE_NAME

router = APIRouter(tags=["people"])
pages = APIRouter(include_in_schema=False)

MAX_FIELD_CHARS = 200


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form's first value per field (the body is capped by BodyLimit)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0][:MAX_FIELD_CHARS] for k, v in parse_qs(body, max_num_fields=20).items()}


FormFields = Annotated[dict[str, str], Depends(form_fields)]


def safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//host`` or a full URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(
    request: Request, status: int = 200, message: str = "", name: str = "", next_path: str = "/",
    person: Person | None = None,
) -> HTMLResponse:  # fmt: skip
    context: dict[str, Any] = {
        "title": "Log in",
        "heading": "Log in" if person is None else "Signed in",
        "message": message,
        "name": name,
        "next": next_path,
        "person": person,
        "local": request.app.state.settings.mode == "local",
    }
    return render_page(request, "login.html", context, "/api/me", status=status)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@pages.get("/login", response_class=HTMLResponse)
def show_login(request: Request, session: SessionDep, next: str = "/") -> HTMLResponse:
    cookie = request.cookies.get(COOKIE_NAME)
    person = sessions.person_for_session(session, cookie) if cookie else None
    return login_page(request, next_path=safe_next(next), person=person)


@pages.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request, session: SessionDep, settings: SettingsDep, form: FormFields
) -> Response:
    """Failures are answered, not raised, so that the failure count commits with them."""
    name, token = form.get("name", "").strip(), form.get("token", "").strip()
    next_path = safe_next(form.get("next"))
    if settings.mode == "local":
        return login_page(request, 400, "Local mode has no login.")
    reason = cross_site_reason(request, require_header=False)
    if reason is not None:
        return login_page(request, 403, f"Cross-site login refused: {reason}.", name, next_path)
    scopes = throttle.scopes(name, client_of(request))
    wait = throttle.retry_after(session, scopes)
    if wait > 0:
        response = login_page(
            request, 429, f"Too many failed logins: try again in {wait} s.", name, next_path
        )
        response.headers["Retry-After"] = str(wait)
        return response
    user = sessions.verify_login(session, name, token) if name and token else None
    if user is None:
        throttle.record_failure(session, scopes)
        message = "That name and token do not match an account."
        return login_page(request, 401, message, name, next_path)
    throttle.record_success(session, name)
    value = sessions.start_session(session, user, timedelta(hours=settings.session_hours))
    redirect = RedirectResponse(next_path, status_code=303)
    redirect.set_cookie(
        COOKIE_NAME,
        value,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return redirect


@pages.get("/logout", response_class=HTMLResponse)
def show_logout(request: Request, session: SessionDep) -> HTMLResponse:
    cookie = request.cookies.get(COOKIE_NAME)
    person = sessions.person_for_session(session, cookie) if cookie else None
    return login_page(request, person=person, message="" if person else "You are not logged in.")


@pages.post("/logout")
def log_out(request: Request, session: SessionDep) -> Response:
    reason = cross_site_reason(request, require_header=False)
    if reason is not None:
        return login_page(request, 403, f"Cross-site logout refused: {reason}.")
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        sessions.end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


@router.get("/api/me", summary="Who this request acts for: name, role, and the mode")
def who_am_i(person: CurrentPerson, settings: SettingsDep) -> dict[str, Any]:
    return {"name": person.name, "role": person.role, "local": person.local, "mode": settings.mode}


class NewAccount(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["learner", "reviewer", "editor", "admin"] = "learner"


def account_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "created_at": user.created_at.isoformat(),
        "revoked_at": user.revoked_at.isoformat() if user.revoked_at else None,
    }


AccountName = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/api/users", summary="Every account (admins)")
def list_accounts(session: SessionDep, _admin: Admin) -> dict[str, Any]:
    data = [account_json(u) for u in accounts.list_accounts(session)]
    return {"data": data, "count": len(data)}


@router.post("/api/users", status_code=201, summary="Add an account; its token is shown once")
def add_account(body: NewAccount, session: SessionDep, _admin: Admin) -> dict[str, Any]:
    account = accounts.add_account(session, body.name, body.role)
    user = accounts.active_account(session, account.name)
    assert user is not None
    return {**account_json(user), "token": account.token}


@router.post("/api/users/{name}/revoke", summary="Revoke an account: its token and sessions end")
def revoke_account(name: AccountName, session: SessionDep, _admin: Admin) -> dict[str, Any]:
    return account_json(accounts.revoke_account(session, name))
