"""Process scheduling shared by the launcher and the embedded Triton."""

import contextlib
from pathlib import Path


def session_nice(pid: int, nice: int) -> None:
    """Lower the priority of process ``pid``'s session group to ``nice``. Where Linux schedules by session
    groups (autogroup, the usual default), the CPU is shared between the groups first, whatever each
    process's own niceness, and each service runs in a session of its own: the group's niceness is the one
    that counts. Nothing happens where there are no such groups (the file is missing) or it is refused."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
