"""The dashboard's nginx configuration (frontend/nginx.conf, what the image serves), run by Debian's nginx as
this user on free ports, serving the built dashboard: every answer carries the security headers, and the page
needs nothing that its policy refuses."""

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tests.support import LocalServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "frontend" / "nginx.conf"
DIST = ROOT / "frontend" / "dist"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin") or "nginx"
# What the image gives the site: its port, its files and the backend service, each written once in the file.
IN_THE_IMAGE = ("listen 8080;", "root /usr/share/nginx/html;", "http://backend:8000")
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class Backend(LocalServer):
    """Stands in for the API behind /api/: one answer with a caching header of its own."""

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/health")
        async def health() -> JSONResponse:
            return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

        return app


@dataclass
class Dashboard:
    url: str
    asset: str  # the path of one built asset


def main_conf(folder: Path, site: Path) -> str:
    """nginx's own top level, as the image has it, around the site; everything it writes under ``folder``."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\nmaster_process off;\npid {folder / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"    access_log off;\n{temp}\n    include {site};\n}}\n"
    )


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited {process.returncode}: {log.read_text(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nginx did not listen on {port} within {timeout_s} s")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    assert shutil.which(NGINX), f"{NGINX} is missing: `make test-deps` installs it"
    if not (DIST / "index.html").is_file():
        pytest.skip("the dashboard is not built: `make dashboard` builds it")
    assets = sorted((DIST / "assets").iterdir())
    folder = tmp_path_factory.mktemp("nginx")
    port = free_port()
    with Backend() as backend:
        site = SITE.read_text()
        for written, here in zip(
            IN_THE_IMAGE,
            (f"listen 127.0.0.1:{port};", f"root {DIST};", f"http://127.0.0.1:{backend.port}"),
            strict=True,
        ):
            assert written in site, f"frontend/nginx.conf no longer has {written!r}: update this test"
            site = site.replace(written, here)
        (folder / "site.conf").write_text(site)
        (folder / "nginx.conf").write_text(main_conf(folder, folder / "site.conf"))
        log = folder / "nginx.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", "stderr"],
                stdout=out,
                stderr=out,
            )
        try:
            wait_for_port(process, port, log)
            yield Dashboard(f"http://127.0.0.1:{port}", f"/assets/{assets[0].name}")
        finally:
            process.terminate()
            process.wait(timeout=10)


def policy(answer: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as directive -> sources."""
    directives = (part.split() for part in answer.headers["Content-Security-Policy"].split(";"))
    return {words[0]: words[1:] for words in directives if words}


def assert_secured(answer: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert answer.headers.get(name) == value, f"{answer.url}: {name} is {answer.headers.get(name)!r}"
    assert answer.headers["Server"] == "nginx", "server_tokens off: no version"
    csp = policy(answer)
    assert csp["default-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"], "the page's own origin, its WebSocket included"
    assert csp["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in source for sources in csp.values() for source in sources)


def test_the_page_its_assets_and_unknown_paths_carry_the_security_headers(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.url, timeout=5) as client:
        page = client.get("/")
        asset = client.get(dashboard.asset)
        fallback = client.get("/no/such/page")
        missing_asset = client.get("/assets/no-such-file.js")
    assert page.status_code == 200
    assert '<div id="root">' in page.text
    assert page.headers["Cache-Control"] == "no-cache"
    assert asset.status_code == 200
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert fallback.status_code == 200, "the single-page app's own routes are the page"
    assert fallback.text == page.text
    assert fallback.headers["Cache-Control"] == "no-cache"
    assert missing_asset.status_code == 404, "not the page under an asset's name, cached for good"
    for answer in (page, asset, fallback, missing_asset):
        assert_secured(answer)


def test_the_api_answers_through_it_keep_their_own_caching_and_get_the_headers(dashboard: Dashboard) -> None:
    answer = httpx.get(f"{dashboard.url}/api/health", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers.get_list("Cache-Control") == ["no-store"]
    assert_secured(answer)


class Sources(HTMLParser):
    """What a page loads, and the inline code a policy without 'unsafe-inline' refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [url for key in ("src", "href") if (url := found.get(key))]
        if "style" in found or any(key.startswith("on") for key in found):
            self.inline.append(f"<{tag}> attribute")
        self._in_script = tag == "script" and "src" not in found
        if tag == "style":
            self.inline.append("<style>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("<script> without src")


def test_the_built_page_loads_only_what_its_policy_allows() -> None:
    if not (DIST / "index.html").is_file():
        pytest.skip("the dashboard is not built: `make dashboard` builds it")
    page = Sources()
    page.feed((DIST / "index.html").read_text())
    assert page.urls, "the page loads its script and styles"
    for url in page.urls:
        # 'self' for scripts, styles and the rest; data: for images only (the favicon).
        assert (url.startswith("/") and not url.startswith("//")) or url.startswith("data:image/"), url
    assert not page.inline, f"inline code the policy refuses: {page.inline}"
    for script in (DIST / "assets").glob("*.js"):
        assert not re.search(r"\beval\(|new Function\(", script.read_text()), (
            f"{script.name} evaluates strings"
        )
