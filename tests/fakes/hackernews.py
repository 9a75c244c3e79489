"""A local Hacker News API: a real HTTP server answering the Firebase REST paths the source reads
(``/v0/maxitem.json``, ``/v0/item/<id>.json``) from ``items``, ``null`` for an id it does not hold, as the
real one does for an item not there yet. ``asked`` records each path asked for."""

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from tests.support import LocalServer


class FakeHackerNews(LocalServer):
    def __init__(self, items: dict[int, dict[str, Any]], maxitem: int | None = None) -> None:
        self.items = items
        self.maxitem = maxitem if maxitem is not None else max(items, default=0)
        self.asked: list[str] = []
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v0"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v0/maxitem.json")
        def maxitem() -> JSONResponse:
            self.asked.append("maxitem")
            return JSONResponse(self.maxitem)

        @app.get("/v0/item/{item_id}.json")
        def item(item_id: int) -> JSONResponse:
            self.asked.append(f"item/{item_id}")
            return JSONResponse(self.items.get(item_id))

        return app


def story(item_id: int, title: str, text: str | None = None, **more: Any) -> dict[str, Any]:
    found = {"id": item_id, "type": "story", "by": "pg", "time": 1_780_000_000, "title": title, **more}
    if text is not None:
        found["text"] = text
    return found


def comment(item_id: int, text: str, **more: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "comment",
        "by": "dang",
        "time": 1_780_000_100,
        "parent": 1,
        "text": text,
        **more,
    }
