"""The browser app at ``/``: its page, its ES modules and the vendored libraries.

The app is static files shipped inside the package (``convoflow/web/static``), so a ``pip
install`` needs no Node. ``/`` and ``/setup`` answer the same page (the app routes with the
URL's hash, ``/#/templates``, so no other path needs a fallback). The page lists the vendored
scripts and styles from ``vendor/manifest.json``, each URL carrying the file's checksum, so
vendored files can be cached for a year and an upgrade still reaches every browser; the app's
own modules are revalidated on every load.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from convoflow.api.security_headers import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)

STATIC_PREFIX = "/static"
VENDOR_CACHE = "public, max-age=31536000, immutable"
APP_CACHE = "no-cache"
#: The page carries the security headers itself too (no inline script or style, no eval:
#: it loads only files from this server); the policy is the one of every response.
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": APP_CACHE}


def static_dir() -> Path:
    """Where the app's files are (inside the installed package)."""
    return Path(str(resources.files("convoflow.web") / "static"))


@cache
def vendor_manifest() -> list[dict[str, str]]:
    """The vendored files, in load order."""
    manifest = json.loads((static_dir() / "vendor" / "manifest.json").read_text())
    files: list[dict[str, str]] = manifest["files"]
    return files


@cache
def index_page() -> str:
    """index.html with the vendored styles and scripts linked in load order."""
    styles = []
    scripts = []
    for entry in vendor_manifest():
        url = f"{STATIC_PREFIX}/vendor/{entry['file']}?v={entry['sha256'][:16]}"
        if entry["kind"] == "style":
            styles.append(f'<link rel="stylesheet" href="{url}">')
        else:
            scripts.append(f'<script src="{url}"></script>')
    page = (static_dir() / "index.html").read_text()
    return page.replace("<!-- vendor-styles -->", "\n    ".join(styles)).replace(
        "<!-- vendor-scripts -->", "\n    ".join(scripts)
    )


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def app_page() -> HTMLResponse:
    """The app."""
    return HTMLResponse(index_page(), headers=PAGE_HEADERS)


@router.api_route("/setup", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def setup_page() -> HTMLResponse:
    """The app, opened on the first-run page (it reads ``?token=`` itself)."""
    return HTMLResponse(index_page(), headers=PAGE_HEADERS)


class AppFiles(StaticFiles):
    """Static files with the app's cache rules: vendored files for a year, the rest
    revalidated (ETag) on every load."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, with its Cache-Control and nosniff."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        vendored = Path(full_path).parent.name == "vendor"
        response.headers["Cache-Control"] = VENDOR_CACHE if vendored else APP_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> AppFiles:
    """The ASGI app serving ``/static``."""
    return AppFiles(directory=static_dir())
