"""The contract the dashboard is typed against, as JSON, for its generated TypeScript types.

``python -m services.backend.contract OUTDIR`` writes ``OUTDIR/openapi.json`` (the REST API's OpenAPI
document, built without starting the app) and ``OUTDIR/events.json`` (the JSON Schema of the WebSocket
events, as they are serialised). ``npm run generate`` in frontend/ runs it and turns both into
``frontend/src/generated/``; ``make contract-check`` fails when those files are stale.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from services.backend.app import create_app
from services.common.events import Event
from services.common.settings import Settings


class _AsSent(GenerateJsonSchema):
    """Every field is in the JSON sent (``encode_event`` drops none), defaults included: all required."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        return self.mode == "serialization" or super().field_is_required(field, total)


def openapi() -> dict[str, Any]:
    return create_app(Settings(_env_file=None)).openapi()


def events() -> dict[str, Any]:
    adapter: TypeAdapter[Event] = TypeAdapter(Event)  # type: ignore[arg-type, unused-ignore]  # as in events.py
    return {"title": "LiveEvent", **adapter.json_schema(mode="serialization", schema_generator=_AsSent)}


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in (("openapi.json", openapi()), ("events.json", events())):
        (folder / name).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="where openapi.json and events.json go")
    write(parser.parse_args().outdir)
