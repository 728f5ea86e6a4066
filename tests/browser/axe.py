"""Accessibility checks for the browser tests, with axe-core (https://github.com/dequelabs/axe-core).

axe-core comes from the npm registry: one pinned version, checked against the registry's
``dist.integrity`` hash, downloaded once into ``~/.cache/clinic-tests`` (or ``$AXE_CACHE_DIR``).
It is never loaded from a CDN by the page, and never committed to the repository.

To move to a newer version, take ``version`` and ``dist.integrity`` from
https://registry.npmjs.org/axe-core/<version> and update both constants together.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.request
from functools import cache
from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_INTEGRITY = (
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
AXE_TARBALL_URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_MEMBER = "package/axe.min.js"

DEFAULT_IMPACTS = ("serious", "critical")
MAX_NODES = 3  # node targets/snippets kept per violation, to keep failure messages readable
MAX_HTML = 200  # characters of each node's HTML snippet


class AxeIntegrityError(RuntimeError):
    """The axe-core tarball does not match the pinned sha512 integrity."""


def cache_dir() -> Path:
    configured = os.environ.get("AXE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "clinic-tests"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _tarball() -> bytes:
    """The verified tarball: from the cache when it is there and intact, else from the registry."""
    path = cache_dir() / f"axe-core-{AXE_VERSION}.tgz"
    if path.exists():
        data = path.read_bytes()
        if _integrity(data) == AXE_INTEGRITY:
            return data
        # A truncated or tampered cache file: fetch a fresh copy rather than trust it.
        path.unlink()

    try:
        data = _download(AXE_TARBALL_URL)
    except OSError as error:
        raise RuntimeError(
            f"Could not download axe-core {AXE_VERSION} from {AXE_TARBALL_URL}: {error}. "
            f"The browser tests need the npm registry once; afterwards it is cached in {path.parent}."
        ) from error

    actual = _integrity(data)
    if actual != AXE_INTEGRITY:
        raise AxeIntegrityError(
            f"axe-core {AXE_VERSION} from {AXE_TARBALL_URL} failed its integrity check:\n"
            f"  expected {AXE_INTEGRITY}\n"
            f"  got      {actual}\n"
            "Refusing to run it. If the version was changed on purpose, copy dist.integrity "
            f"from https://registry.npmjs.org/axe-core/{AXE_VERSION}."
        )

    # Write atomically, so a parallel or interrupted run never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".part", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)
    return data


@cache
def axe_source() -> str:
    """The text of axe.min.js from the pinned, integrity-checked axe-core tarball (downloaded once)."""
    with tarfile.open(fileobj=io.BytesIO(_tarball()), mode="r:gz") as tar:
        try:
            member = tar.extractfile(AXE_MEMBER)
        except KeyError:
            member = None
        if member is None:
            raise RuntimeError(f"axe-core {AXE_VERSION} tarball has no {AXE_MEMBER}")
        return member.read().decode("utf-8")


def axe_violations(page, *, impacts=DEFAULT_IMPACTS) -> list[dict]:
    """Run axe-core on the page as it is now; the violations whose impact is in ``impacts``."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not added as an inline <script>: the
        # site's Content-Security-Policy rightly refuses inline scripts.
        page.evaluate(axe_source() + "\n;undefined")
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations = []
    for violation in results["violations"]:
        if violation.get("impact") not in impacts:
            continue
        nodes = violation.get("nodes", [])
        violations.append(
            {
                "id": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "helpUrl": violation.get("helpUrl", ""),
                "count": len(nodes),
                "nodes": [
                    {"target": node.get("target", []), "html": node.get("html", "")[:MAX_HTML]}
                    for node in nodes[:MAX_NODES]
                ],
            }
        )
    return violations


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        if violation.get("helpUrl"):
            lines.append(f"    {violation['helpUrl']}")
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    at {target}")
            lines.append(f"       {node['html']}")
        more = violation.get("count", len(violation["nodes"])) - len(violation["nodes"])
        if more > 0:
            lines.append(f"    … and {more} more element(s)")
    return "\n".join(lines)


def assert_accessible(page, label: str, *, impacts=DEFAULT_IMPACTS) -> None:
    """Fail with a readable list when axe-core finds serious or critical violations on the page."""
    violations = axe_violations(page, impacts=impacts)
    if violations:
        raise AssertionError(
            f"{label}: axe-core {AXE_VERSION} found {len(violations)} accessibility "
            f"violation(s) ({'/'.join(impacts)}) at {page.url}\n" + format_violations(violations)
        )
