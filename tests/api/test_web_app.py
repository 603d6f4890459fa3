"""The browser app's files: served at / and /setup under the strict policy, vendored files
matching their checksums, app modules that import only files that exist, nothing the
Content-Security-Policy would block, and every file shipped as package data."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from convoflow.api import web
from convoflow.api.app import create_app
from convoflow.api.security_headers import CONTENT_SECURITY_POLICY
from tests.conftest import make_settings

STATIC = web.static_dir()
MANIFEST = json.loads((STATIC / "vendor" / "manifest.json").read_text())
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
APP_MODULES = sorted((STATIC / "app").rglob("*.js"))


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app's routes without its lifespan: the page and files need no runtime."""
    app = create_app(make_settings(sqlite_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://convoflow.test") as http:
        yield http


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_vendored_file_matches_the_manifest() -> None:
    entries = MANIFEST["files"]
    assert {entry["name"] for entry in entries} >= {
        "vue",
        "@vue-flow/core",
        "@dagrejs/dagre",
        "chart.js",
    }
    for entry in entries:
        assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]), entry
        assert sha256(STATIC / "vendor" / entry["file"]) == entry["sha256"], entry["file"]
    on_disk = {path.name for path in (STATIC / "vendor").iterdir()}
    assert on_disk == {entry["file"] for entry in entries} | {"manifest.json"}


def test_vue_is_the_runtime_only_build() -> None:
    (vue,) = [entry for entry in MANIFEST["files"] if entry["name"] == "vue"]
    assert "runtime" in vue["file"]  # the template compiler would need 'unsafe-eval'


async def test_the_page_is_served_at_the_root_and_setup_under_the_policy(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/setup?token=abc"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self';" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-cache"
    assert (await client.head("/")).status_code == 200


async def test_the_page_loads_the_vendored_files_in_order_then_the_app(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/")).text
    sources = re.findall(r'<script[^>]*src="([^"]+)"', page)
    scripts = [entry for entry in MANIFEST["files"] if entry["kind"] == "script"]
    assert sources[:-1] == [
        f"/static/vendor/{entry['file']}?v={entry['sha256'][:16]}" for entry in scripts
    ]
    assert sources[-1] == "/static/app/main.js"
    # Nothing inline: no script body, no <style> element, no style attribute.
    assert re.findall(r"<script[^>]*>\s*[^<\s]", page) == []
    assert "<style" not in page and "style=" not in page


async def test_vendored_files_are_cached_for_a_year_and_app_files_revalidated(
    client: httpx.AsyncClient,
) -> None:
    entry = MANIFEST["files"][0]
    vendored = await client.get(f"/static/vendor/{entry['file']}?v={entry['sha256'][:16]}")
    assert vendored.status_code == 200
    assert "immutable" in vendored.headers["cache-control"]
    assert hashlib.sha256(vendored.content).hexdigest() == entry["sha256"]
    module = await client.get("/static/app/main.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert module.headers["cache-control"] == "no-cache"
    assert (await client.get("/static/app/nothing.js")).status_code == 404


IMPORT = re.compile(
    r"""(?:import|export)\s[^"';]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']"""
)


@pytest.mark.parametrize("module", APP_MODULES, ids=lambda path: str(path.relative_to(STATIC)))
def test_app_modules_import_only_files_that_exist(module: Path) -> None:
    for found in IMPORT.finditer(module.read_text()):
        target = found.group(1) or found.group(2)
        assert target.startswith("."), f"{module.name}: bare import {target!r} (no bundler)"
        assert (module.parent / target).resolve().is_file(), f"{module.name}: {target} is missing"


@pytest.mark.parametrize("module", APP_MODULES, ids=lambda path: str(path.relative_to(STATIC)))
def test_app_modules_use_nothing_the_policy_forbids(module: Path) -> None:
    source = module.read_text()
    for forbidden in (
        "eval(",
        "new Function",
        "innerHTML",
        'setAttribute("style"',
        "document.write",
    ):
        assert forbidden not in source, f"{module.name} uses {forbidden}"


def test_every_static_file_is_package_data() -> None:
    patterns = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"][
        "convoflow"
    ]
    package_root = STATIC.parents[1]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(package_root))
            assert any(
                fnmatch.fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")
                for pattern in patterns
            ), f"{relative} would be missing from an installed package"
