"""GET and POST /login, POST /logout: signing in to the web UI with an API key (when ``--auth`` is on).

The key is checked like a bearer key; the browser then holds a signed session cookie naming the key
(``HttpOnly``, ``SameSite=Strict``, ``Secure`` over HTTPS), never the key itself. Sign-in and sign-out
forms are accepted only from the server's own pages.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from threadline.server.api.deps import runtime
from threadline.server.auth import sessions
from threadline.server.auth.access import Access, principal_of, requires
from threadline.server.web.templating import page

router = APIRouter(include_in_schema=False, dependencies=[Depends(requires(Access.OPEN))])
MAX_FORM_BYTES = 4096


@router.get("/favicon.ico")
async def favicon() -> RedirectResponse:
    """Browsers ask for it whatever the page's icon link says."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/login", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    if not runtime(request).settings.auth:
        return RedirectResponse("/", status_code=303)
    principal = principal_of(request)
    return page("signin.html", next=_next(request.query_params.get("next")), principal=principal, error=None)


@router.post("/login", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    rt = runtime(request)
    if not rt.settings.auth:
        return RedirectResponse("/", status_code=303)
    if not _same_origin(request):
        return page("signin.html", 403, next="/", principal=None, error="Sign in from this server's own page.")
    form = parse_qs((await request.body())[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = _next((form.get("next") or ["/"])[0])
    authenticator = rt.authenticator
    assert authenticator is not None
    principal = await run_in_threadpool(authenticator.bearer, key) if key else None
    if principal is None or not principal.may(Access.READ):
        reason = "That key was not accepted." if principal is None else "That key may only ingest, not read."
        return page("signin.html", 401, next=target, principal=None, error=reason)
    cookie, lifetime = authenticator.signed_session(principal)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        sessions.COOKIE,
        cookie,
        max_age=lifetime,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    answer = RedirectResponse("/login", status_code=303)
    if _same_origin(request):
        answer.delete_cookie(sessions.COOKIE, path="/")
    return answer


def _next(value: str | None) -> str:
    """Where to go after signing in: a path on this server only (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"
