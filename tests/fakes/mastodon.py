"""A local Mastodon instance: a real HTTP server answering the REST timelines the source reads
(``/api/v1/timelines/public`` and ``/api/v1/timelines/tag/<tag>``) from ``statuses``, with ``limit`` and
``min_id`` as Mastodon's documentation says (the statuses just after ``min_id``, newest first) and its
rate-limit headers; ``status_code`` answers every request with that code instead (401: public timelines
disabled; 429 with ``Retry-After``)."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support import LocalServer


class FakeMastodon(LocalServer):
    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.status_code: int | None = None
        self.remaining = 300
        self.asked: list[dict[str, str]] = []
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> FastAPI:
        app = FastAPI()

        def page(request: Request, tag: str | None) -> JSONResponse:
            self.asked.append(dict(request.query_params) | ({"tag": tag} if tag else {}))
            self.remaining -= 1
            headers = {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": str(max(0, self.remaining)),
                "X-RateLimit-Reset": "2099-01-01T00:00:00.000Z",
            }
            if self.status_code is not None:
                return JSONResponse(
                    {"error": "no"}, status_code=self.status_code, headers=headers | {"Retry-After": "60"}
                )
            limit = int(request.query_params.get("limit", 20))
            min_id = int(request.query_params.get("min_id", 0))
            chosen = [s for s in self.statuses if tag is None or tag in s.get("tags_", [])]
            after = sorted((s for s in chosen if int(s["id"]) > min_id), key=lambda s: int(s["id"]))[:limit]
            return JSONResponse(
                [{k: v for k, v in s.items() if k != "tags_"} for s in reversed(after)], headers=headers
            )

        @app.get("/api/v1/timelines/public")
        def public(request: Request) -> JSONResponse:
            return page(request, None)

        @app.get("/api/v1/timelines/tag/{tag}")
        def hashtag(tag: str, request: Request) -> JSONResponse:
            return page(request, tag)

        return app


def status(n: int, html: str, instance: str = "mastodon.social", **more: Any) -> dict[str, Any]:
    """Status number ``n`` as an instance's REST API gives it (the fields the source reads)."""
    return {
        "id": str(110_000_000_000_000_000 + n),
        "uri": f"https://{instance}/users/ann/statuses/{n}",
        "url": f"https://{instance}/@ann/{n}",
        "created_at": "2026-12-01T10:00:00.000Z",
        "language": "en",
        "content": html,
        "spoiler_text": "",
        "visibility": "public",
        "account": {"id": "1", "acct": "ann@" + instance, "display_name": "Ann", "bot": False},
        "reblog": None,
        **more,
    }
