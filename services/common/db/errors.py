"""PostgreSQL errors sorted by what they are, from their SQLSTATE (the class is its first two characters;
https://www.postgresql.org/docs/current/errcodes-appendix.html).

The asyncpg dialect raises SQLAlchemy's generic DBAPIError for most server errors (never its DataError), so
the type says little: the code says whether the data is at fault or the server is away.
"""

import asyncpg
from sqlalchemy.exc import DBAPIError

# The data's fault: data exceptions (22: a value too long, a character the database encoding cannot hold,
# a number out of range) and integrity constraints (23: a check, a foreign key, NOT NULL).
DATA_CLASSES = frozenset({"22", "23"})
# The server away or refusing for now: connection exceptions (08), insufficient resources (53: disk full,
# out of memory, too many connections), operator intervention (57: shutting down, starting, a cancelled
# statement), system errors (58: I/O), a transaction rolled back by a serialisation failure or a deadlock
# (40), a lock not available (55P03).
OUTAGE_CLASSES = frozenset({"08", "53", "57", "58", "40"})
# And two codes of other classes: a lock not available, and a read-only transaction (a standby, or a
# primary being demoted: the database of a failover, as Redis's READONLY).
OUTAGE_CODES = frozenset({"55P03", "25006"})


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, if the server sent one."""
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code if isinstance(code, str) else None
    code = getattr(exc, "sqlstate", None)  # asyncpg's own errors, when used without SQLAlchemy
    return code if isinstance(code, str) else None


def missing_partition(exc: BaseException) -> bool:
    """A row dated where no partition is (23514, a check violation by its code): the partition maintenance
    has not made that day yet. An outage, not the post's fault: the post is stored once the day exists."""
    if sqlstate(exc) != "23514":
        return False
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return "no partition of relation" in str(cause)


def data_at_fault(exc: BaseException) -> bool:
    """The statement's data broke a rule: the same data fails the same way every time."""
    code = sqlstate(exc)
    return code is not None and code[:2] in DATA_CLASSES and not missing_partition(exc)


def database_away(exc: BaseException) -> bool:
    """PostgreSQL is not answering, or refuses for now: try again later. Without a SQLSTATE, only the
    connection itself failing (closed, reset, refused, timed out) is; another error the driver raises on
    its own (an argument it cannot encode, a misuse) is not known to be an outage."""
    if not isinstance(exc, DBAPIError):
        return False
    code = sqlstate(exc)
    if missing_partition(exc):
        return True
    if code is None:
        cause = exc.orig.__cause__ if exc.orig is not None else None
        lost = (OSError, TimeoutError, asyncpg.exceptions.ConnectionDoesNotExistError)
        return exc.connection_invalidated or isinstance(cause, lost)
    return code[:2] in OUTAGE_CLASSES or code in OUTAGE_CODES


def summary(exc: DBAPIError) -> str:
    """The server's error and its SQLSTATE, without the statement and its parameters that SQLAlchemy's
    message carries: a post's text has no place in a log line or a dead letter's reason."""
    cause = exc.orig.__cause__ if exc.orig is not None and exc.orig.__cause__ is not None else exc.orig
    code = sqlstate(exc)
    text = f"{type(cause).__name__}{f' ({code})' if code else ''}: {cause}"
    if missing_partition(exc):
        text += " (the day has no partition yet: run python -m services.common.db.partitions)"
    return text
