"""How database errors are written down: never with a statement's parameters."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.errors import sqlstate, summary


async def test_a_failed_statement_never_carries_its_parameters(engine: AsyncEngine) -> None:
    """What a dead letter's reason and a worker's /health are made of: no post's text in them."""
    with pytest.raises(DBAPIError) as caught:
        async with engine.connect() as conn:
            await conn.execute(
                text("SELECT 1 / :zero WHERE :text <> ''"), {"zero": 0, "text": "a post's words"}
            )
    assert sqlstate(caught.value) == "22012"  # division by zero: the post's own fault
    for written in (str(caught.value), summary(caught.value)):
        assert "a post's words" not in written
