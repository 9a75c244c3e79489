import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from services.common.db.migrate import drop_database
from services.common.settings import Settings


@pytest.fixture
def scratch_url(settings: Settings) -> Iterator[str]:
    """A database name of its own that does not exist yet; dropped after the test."""
    url = make_url(settings.database_url)
    scratch = url.set(database=f"{url.database}_scratch").render_as_string(hide_password=False)
    yield scratch
    asyncio.run(drop_database(scratch))
