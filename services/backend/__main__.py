"""``python -m services.backend``: the API on BACKEND_HOST:BACKEND_PORT (uvicorn)."""

import uvicorn

from services.backend.app import create_app
from services.common.cli import start


def main() -> None:
    settings = start()
    uvicorn.run(
        create_app(settings),
        host=settings.backend_host,
        port=settings.backend_port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
