"""``python -m services.backend``: the API on BACKEND_HOST:BACKEND_PORT (uvicorn)."""

import uvicorn

from services.backend.app import create_app
from services.backend.live import CLIENT_FRAME_MAX
from services.common.cli import start


def main() -> None:
    settings = start()
    uvicorn.run(
        create_app(settings),
        host=settings.backend_host,
        port=settings.backend_port,
        log_level=settings.log_level.lower(),
        # uvicorn's loggers go through the services' own set-up (services/common/cli.py), which keeps
        # secrets out of every line, the access log's URLs included.
        log_config=None,
        # A WebSocket client has nothing to say: a frame over this is refused (1009) before it is read
        # whole or inflated (uvicorn's default is 16 MiB, after decompression).
        ws_max_size=CLIENT_FRAME_MAX,
        server_header=False,
    )


if __name__ == "__main__":
    main()
