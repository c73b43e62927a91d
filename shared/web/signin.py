"""Sign-in, sign-out and the home page: the same routes on every service (one session store).

``GET /sign-in`` shows the form, ``POST /sign-in`` checks the password (slow-down and lock-out in
``shared.accounts``) and starts a session, ``POST /sign-out`` ends it on every service, and
``GET /`` lists the pages the person may open on the three services.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared import accounts
from shared.db import SessionDep
from shared.oidc import SSO_MESSAGES
from shared.web import sessions
from shared.web.pages import page_caller, page_links, render, sign_in_page
from shared.web.sessions import check_same_origin, safe_next

router = APIRouter(include_in_schema=False, tags=["pages"])


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """The suite's front door: the pages this person may open, or the sign-in link."""
    who = page_caller(request, session)
    links = page_links(request, who)
    return render(request, "home.html", {"pages": links}, who=who)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request,
    session: SessionDep,
    next: Annotated[str, Query(max_length=500)] = "/",
    error: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The sign-in form; someone already signed in goes straight on."""
    target = safe_next(next)
    if page_caller(request, session) is not None:
        return RedirectResponse(target, status_code=303)
    message = SSO_MESSAGES.get(error or "")
    return sign_in_page(request, next_url=target, error=message, status_code=200)


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=accounts.PASSWORD_MAX + 1)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check the username and password; on success start a session and go to ``next``."""
    check_same_origin(request, what="Sign-in")
    settings = request.app.state.settings
    target = safe_next(next)
    result = accounts.authenticate(session, username=username, password=password, settings=settings)
    if isinstance(result, accounts.SignInRefused):
        session.commit()  # the failure counts even though nothing else is kept
        headers = {"Retry-After": str(result.retry_after_s)} if result.retry_after_s else None
        page = sign_in_page(
            request,
            next_url=target,
            error=result.message,
            username=username.strip()[:64],
            status_code=429 if result.retry_after_s else 401,
        )
        if headers:
            page.headers.update(headers)
        return page
    clear = sessions.start(session, result, via="password", settings=settings)
    session.commit()
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(response, clear, request=request, settings=settings)
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep) -> Response:
    """End this browser's session on every service and show the sign-in page."""
    check_same_origin(request, what="Sign-out")
    clear = request.cookies.get(sessions.COOKIE)
    if clear:
        sessions.end(session, clear)
        session.commit()
    response = RedirectResponse(request.url_for("sign_in_form").path + "?next=/", status_code=303)
    sessions.clear_cookie(response)
    return response
