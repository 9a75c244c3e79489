"""A local feed server: a real HTTP server answering RSS and Atom files from ``feeds`` (path -> XML) with an
ETag and a Last-Modified, and 304 to a request that carries the current ETag; ``status`` overrides a
path's answer (a 429 with Retry-After, a 500). ``asked`` records each request's path and validators."""

import hashlib

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.support import LocalServer

MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT"


class FakeFeeds(LocalServer):
    def __init__(self, feeds: dict[str, str]) -> None:
        self.feeds = feeds
        self.status: dict[str, tuple[int, dict[str, str]]] = {}
        self.asked: list[tuple[str, str | None]] = []  # (path, If-None-Match)
        super().__init__()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/{path}")
        def feed(path: str, request: Request) -> Response:
            self.asked.append((path, request.headers.get("if-none-match")))
            if path in self.status:
                code, headers = self.status[path]
                return Response(status_code=code, headers=headers)
            if path not in self.feeds:
                return Response(status_code=404)
            body = self.feeds[path].encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag})
            headers = {"ETag": etag, "Last-Modified": MODIFIED}
            return Response(body, media_type="application/rss+xml", headers=headers)

        return app


def rss(items: str, language: str = "en-us") -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Example news</title>'
        f"<link>https://example.org/</link><language>{language}</language>{items}</channel></rss>"
    )


def item(n: int, title: str, body: str = "", date: bool = True, author: bool = True) -> str:
    when = "<pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate>" if date else ""
    by = "<author>ann@example.org (Ann)</author>" if author else ""
    return (
        f"<item><title>{title}</title><link>https://example.org/{n}</link><guid>urn:example:{n}</guid>{when}{by}"
        f"<description><![CDATA[{body}]]></description></item>"
    )


def atom(entries: str, lang: str = "de") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">'
        f"<title>Atom feed</title><id>urn:feed</id><updated>2026-12-01T10:00:00Z</updated>{entries}</feed>"
    )
