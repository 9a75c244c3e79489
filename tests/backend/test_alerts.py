"""GET /api/alerts on the real PostgreSQL: the contract shape, newest first, paging and date filters."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db.models import SentimentAlert
from services.common.timestamps import format_utc
from tests.backend.conftest import NOW


@pytest.fixture
async def alerts(session: AsyncSession) -> None:
    for i in range(12):
        at = NOW - timedelta(hours=i)
        session.add(
            SentimentAlert(
                alert_type="high_negative_ratio",
                threshold_value=2.0,
                actual_value=2.5 + i,
                window_start=at - timedelta(minutes=5),
                window_end=at,
                post_count=20 + i,
                triggered_at=at,
                details={"negative": 10 + i, "positive": 4},
            )
        )
    await session.commit()


@pytest.mark.usefixtures("alerts")
async def test_alerts_come_newest_first_in_the_contract_shape(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/alerts", params={"limit": 5, "offset": 2})).json()
    assert (body["total"], body["limit"], body["offset"]) == (12, 5, 2)
    assert [a["actual_value"] for a in body["alerts"]] == [4.5, 5.5, 6.5, 7.5, 8.5]
    first = body["alerts"][0]
    assert set(first) == {
        "id",
        "alert_type",
        "threshold_value",
        "actual_value",
        "window_start",
        "window_end",
        "post_count",
        "triggered_at",
        "details",
    }
    assert first["triggered_at"] == format_utc(NOW - timedelta(hours=2))
    assert first["details"] == {"negative": 12, "positive": 4}


@pytest.mark.usefixtures("alerts")
async def test_alerts_filter_by_when_they_were_raised(api: httpx.AsyncClient) -> None:
    params = {
        "start_date": format_utc(NOW - timedelta(hours=3)),
        "end_date": format_utc(NOW - timedelta(hours=1)),
    }
    body = (await api.get("/api/alerts", params=params)).json()
    assert body["total"] == 3
    assert [a["post_count"] for a in body["alerts"]] == [21, 22, 23]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"offset": "x"}, "offset"),
        ({"start_date": "2026-13-01T00:00:00Z"}, "start_date"),
        ({"start_date": "2026-11-28T10:00:00Z", "end_date": "2026-11-27T10:00:00Z"}, "start_date"),
    ],
)
async def test_a_bad_parameter_gets_a_422_that_names_it(
    api: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    response = await api.get("/api/alerts", params=params)
    assert response.status_code == 422, response.text
    assert named in [error["loc"][-1] for error in response.json()["detail"]]
