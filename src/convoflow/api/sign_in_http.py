"""How a sign-in travels over HTTP: the session cookie, the CSRF header, the client's
address, and the sign-in policy read from the settings."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response

from convoflow.services.access.sign_in_policy import SignInPolicy
from convoflow.settings import Settings

#: The cookie holding the sign-in token: HttpOnly, SameSite=Strict, Path=/.
SESSION_COOKIE = "convoflow_session"
#: The header that must repeat the sign-in's CSRF token on every change sent by cookie.
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change something: with the cookie they need the CSRF header.
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def sign_in_policy(settings: Settings) -> SignInPolicy:
    """The session lifetime and throttling the settings ask for."""
    return SignInPolicy(
        idle=timedelta(seconds=settings.sign_in_idle_seconds),
        max_age=timedelta(seconds=settings.sign_in_max_age_seconds),
        max_failures=settings.sign_in_max_failures,
        max_failures_per_ip=settings.sign_in_max_failures_per_ip,
        failure_window=timedelta(seconds=settings.sign_in_failure_window_seconds),
    )


def client_ip(request: Request) -> str:
    """The client's address (as the server sees it; behind a proxy, uvicorn's
    ``--forwarded-allow-ips`` decides whether ``X-Forwarded-For`` counts)."""
    return request.client.host if request.client else "unknown"


def _secure(request: Request, settings: Settings) -> bool:
    return settings.secure_cookies or request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, token: str, *, settings: Settings
) -> None:
    """Hand the browser its sign-in token: script cannot read it, other sites cannot
    send it, and over HTTPS (or with ``CONVOFLOW_SECURE_COOKIES``) it never goes out in
    clear. The server ends the session earlier when it lies idle."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.sign_in_max_age_seconds,
        path="/",
        secure=_secure(request, settings),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request, *, settings: Settings) -> None:
    """Tell the browser to forget its sign-in token."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=_secure(request, settings),
        httponly=True,
        samesite="strict",
    )
