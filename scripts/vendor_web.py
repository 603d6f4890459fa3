"""Refresh the web app's vendored JavaScript from the npm registry.

The browser app under ``src/convoflow/web/static`` runs without a build step: its
third-party code is a handful of prebuilt browser files (global/IIFE builds) copied into
``static/vendor/`` at the versions pinned in ``PINNED`` below, with a ``manifest.json`` of
name, version, file and sha256 that the server reads to write the ``<script>`` tags and a
test checks against the files.

Usage (a maintainer's task, never needed to install or run convoflow)::

    python scripts/vendor_web.py            # download the pinned versions, rewrite files + manifest
    python scripts/vendor_web.py --check    # only verify the files against the manifest

To upgrade a library, change its version in ``PINNED`` and run the script. Each tarball is
checked against the registry's published ``integrity`` (sha512) before anything is written.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import httpx

REGISTRY = "https://registry.npmjs.org"
VENDOR_DIR = Path(__file__).resolve().parents[1] / "src" / "convoflow" / "web" / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"


@dataclass(frozen=True)
class Pinned:
    """One file taken from one npm package at one version."""

    name: str
    version: str
    source: str  # path inside the package tarball
    file: str  # file name under static/vendor/
    kind: str  # "script" (loaded with <script src>) or "style" (<link rel=stylesheet>)


# Order matters: scripts are loaded in this order (Vue before what uses the global Vue).
PINNED = (
    Pinned(
        "vue",
        "3.5.47",
        "package/dist/vue.runtime.global.prod.js",
        "vue.runtime.global.prod.js",
        "script",
    ),
    Pinned(
        "@vue-flow/core",
        "1.48.2",
        "package/dist/vue-flow-core.iife.js",
        "vue-flow-core.iife.js",
        "script",
    ),
    Pinned("@vue-flow/core", "1.48.2", "package/dist/style.css", "vue-flow-core.css", "style"),
    Pinned(
        "@vue-flow/core",
        "1.48.2",
        "package/dist/theme-default.css",
        "vue-flow-theme-default.css",
        "style",
    ),
    Pinned("@dagrejs/dagre", "3.1.4", "package/dist/dagre.min.js", "dagre.min.js", "script"),
    Pinned("chart.js", "4.6.2", "package/dist/chart.umd.min.js", "chart.umd.min.js", "script"),
)


@dataclass(frozen=True)
class Patch:
    """A fix applied to a vendored file, with the reason (recorded in the manifest)."""

    file: str
    old: str
    new: str
    why: str


PATCHES = (
    # The IIFE build replaced `process.env.NODE_ENV` with a bare identifier, so the first
    # warning check throws "production is not defined" in a browser.
    Patch(
        "vue-flow-core.iife.js",
        'productionEnvs.includes(production || "")',
        'productionEnvs.includes("production")',
        "the IIFE build reads an undefined global `production`; fixed to production mode",
    ),
)


def patched(file: str, data: bytes) -> tuple[bytes, list[str]]:
    """The file with its patches applied, and the reasons."""
    reasons = []
    for patch in PATCHES:
        if patch.file != file:
            continue
        text = data.decode()
        if patch.old not in text:
            raise SystemExit(
                f"{file}: patch no longer applies ({patch.why}); check the new version"
            )
        data = text.replace(patch.old, patch.new).encode()
        reasons.append(patch.why)
    return data, reasons


def sha256_of(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fetch_tarball(client: httpx.Client, name: str, version: str) -> bytes:
    """The package tarball, verified against the registry's sha512 integrity."""
    meta = client.get(f"{REGISTRY}/{name}/{version}")
    meta.raise_for_status()
    dist = meta.json()["dist"]
    tarball = client.get(dist["tarball"])
    tarball.raise_for_status()
    algorithm, _, expected = dist["integrity"].partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"{name}@{version}: unexpected integrity algorithm {algorithm}")
    actual = base64.b64encode(hashlib.sha512(tarball.content).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{name}@{version}: tarball does not match the registry's integrity")
    return tarball.content


def extract(tarball: bytes, member: str) -> bytes:
    """One file out of a package tarball."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        handle = archive.extractfile(member)
        if handle is None:
            raise SystemExit(f"{member} is not a file in the tarball")
        return handle.read()


def refresh() -> None:
    """Download every pinned file and rewrite the vendor directory and its manifest."""
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    tarballs: dict[tuple[str, str], bytes] = {}
    entries = []
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for pinned in PINNED:
            key = (pinned.name, pinned.version)
            if key not in tarballs:
                tarballs[key] = fetch_tarball(client, pinned.name, pinned.version)
            data, patches = patched(pinned.file, extract(tarballs[key], pinned.source))
            (VENDOR_DIR / pinned.file).write_bytes(data)
            entry = {
                "name": pinned.name,
                "version": pinned.version,
                "source": pinned.source.removeprefix("package/"),
                "file": pinned.file,
                "kind": pinned.kind,
                "sha256": sha256_of(data),
            }
            if patches:
                entry["patches"] = patches
            entries.append(entry)
            print(f"{pinned.name}@{pinned.version} → vendor/{pinned.file}")
    wanted = {entry["file"] for entry in entries} | {MANIFEST.name}
    for stale in VENDOR_DIR.iterdir():
        if stale.name not in wanted:
            stale.unlink()
            print(f"removed vendor/{stale.name}")
    MANIFEST.write_text(json.dumps({"files": entries}, indent=2) + "\n")


def check() -> int:
    """0 when every file matches the manifest, else 1 (and what differs)."""
    manifest = json.loads(MANIFEST.read_text())
    bad = 0
    for entry in manifest["files"]:
        path = VENDOR_DIR / entry["file"]
        if not path.exists() or sha256_of(path.read_bytes()) != entry["sha256"]:
            print(f"vendor/{entry['file']} does not match the manifest", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def main() -> int:
    """Refresh, or with ``--check`` only verify."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only, download nothing")
    arguments = parser.parse_args()
    if arguments.check:
        return check()
    refresh()
    return check()


if __name__ == "__main__":
    sys.exit(main())
