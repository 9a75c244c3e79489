"""``POST /api/ingest``: posts over HTTP onto the stream, for producers that cannot reach Redis.

Off without INGEST_TOKEN (403); with it, the request must bear that token (401). Each post is checked
against the stream message schema on its own: the valid ones are added to the stream in one pipelined
round trip, the others are answered with the fields at fault. When the backlog would pass
STREAM_MAX_BACKLOG nothing is added and the answer is 429 with Retry-After; Redis away or refusing writes
for now (out of memory, a failed save, a replica) is a 503 with Retry-After. A batch of which no post is
valid is a 422, with the same answer.
"""

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse

from services.backend.access import ingest_token
from services.backend.deps import BackendDep
from services.backend.errors import StreamUnavailable
from services.backend.schemas import IngestAnswer, IngestError, IngestRequest, IngestResult
from services.common.messages import MessageError, PostMessage, lone_surrogate
from services.common.redis import redis_unavailable

router = APIRouter(dependencies=[Depends(ingest_token)])


@router.post(
    "/api/ingest",
    response_model=IngestAnswer,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"description": "Missing or wrong bearer token"},
        413: {"description": "The body is over API_MAX_BODY_BYTES: send fewer posts at a time"},
        422: {"description": "No post accepted: each result names the fields at fault"},
        403: {"description": "Ingestion over HTTP is off (no INGEST_TOKEN)"},
        429: {"description": "The backlog is over STREAM_MAX_BACKLOG; retry after Retry-After seconds"},
        503: {"description": "Redis is not answering or refuses writes; retry after Retry-After seconds"},
    },
)
async def ingest(body: IngestRequest, backend: BackendDep) -> IngestAnswer | JSONResponse:
    """Add up to 1,000 posts to the stream; the answer says which were accepted and why others were not.
    Accepted posts are on the stream: the workers will store and classify each one once."""
    valid: list[PostMessage] = []
    results: list[IngestResult] = []
    for index, fields in enumerate(body.posts):
        post_id = fields.get("post_id")
        post_id = post_id if isinstance(post_id, str) and lone_surrogate(post_id) is None else None
        try:
            valid.append(PostMessage.parse(fields, backend.settings.retention_days))
        except MessageError as exc:
            errors = [IngestError(field=e.field, message=e.message) for e in exc.errors]
            results.append(IngestResult(index=index, post_id=post_id, accepted=False, errors=errors))
            continue
        results.append(IngestResult(index=index, post_id=post_id, accepted=True, errors=[]))
    if valid:
        try:
            await backend.stream.add_within_backlog(valid)  # BacklogFull: 429
        except Exception as exc:
            if redis_unavailable(exc):
                raise StreamUnavailable from exc
            raise
    answer = IngestAnswer(accepted=len(valid), rejected=len(body.posts) - len(valid), results=results)
    if not valid:
        return JSONResponse(answer.model_dump(mode="json"), status_code=422)
    return answer
