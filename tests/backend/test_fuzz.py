"""Property-based fuzzing of the whole API from its OpenAPI schema (schemathesis), against the backend
behind a real uvicorn on the real PostgreSQL and Redis: whatever the input, never a 5xx, and every answer
as the schema says."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from services.backend.app import create_app
from services.common.settings import Settings
from tests.support import LocalServer

TOKEN = "fuzz-0123456789"


class Backend(LocalServer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def _app(self) -> FastAPI:
        return create_app(self.settings)


@pytest.fixture
def api(settings: Settings, database_url: str, posts: list[str]) -> Iterator[str]:
    configured = settings.model_copy(
        update={
            "ingest_token": SecretStr(TOKEN),
            "cache_ttl_s": 0,
            "feed_cache_ttl_s": 0,
            "stream_max_backlog": 1_000_000,
        }
    )
    with Backend(configured) as backend:
        yield backend.url


def test_no_input_gets_a_server_error(api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 7  # health, posts, three aggregations, alerts, ingest
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        def check(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(checks=[not_a_server_error], headers={"Authorization": f"Bearer {TOKEN}"})

        check()
