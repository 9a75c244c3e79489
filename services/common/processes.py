"""How the services run: their scheduling (the launcher, the embedded Triton) and garbage collection."""

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path


def session_nice(pid: int, nice: int) -> None:
    """Lower the priority of process ``pid``'s session group to ``nice``. Where Linux schedules by session
    groups (autogroup, the usual default), the CPU is shared between the groups first, whatever each
    process's own niceness, and each service runs in a session of its own: the group's niceness is the one
    that counts. Nothing happens where there are no such groups (the file is missing) or it is refused."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """While the block runs, every object alive at its start (the modules, the app or worker and its
    clients, made once: about 200,000 objects) is left out of the garbage collector's full collections,
    which otherwise walk them all. Measured in the API under the load benchmark: a pause of 80-110 ms every
    6-10 s, with every request in flight waiting on it; 5-10 ms with them left out. At the end they are
    collectable again (tests make many apps in one process)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
