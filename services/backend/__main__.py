"""``python -m services.backend``: the API on BACKEND_HOST:BACKEND_PORT (uvicorn)."""

import uvicorn

from services.common.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "services.backend.app:create_app",
        factory=True,
        host=settings.backend_host,
        port=settings.backend_port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
