"""Which failures are worth retrying, and the retry policy of the steps that write the warehouse.

Transient: the warehouse is briefly unavailable (a DuckDB file another process holds the write
lock on; a PostgreSQL server restarting, refusing or dropping connections, a deadlock or a
serialization conflict). Everything else (a refused file, a model's SQL error, a failing dbt test)
fails the step at once: retrying cannot fix it.
"""

from __future__ import annotations

import re

from dagster import Backoff, Failure, Jitter, RetryPolicy

TRANSIENT = re.compile(
    "|".join((
        r"could not set lock on file",  # DuckDB: another process has the file open for writing
        r"conflicting lock",
        r"database is locked",
        r"could not connect to server",
        r"connection refused",
        r"server closed the connection unexpectedly",
        r"connection (?:timed out|reset)",
        r"timeout expired",
        r"the database system is (?:starting up|shutting down|in recovery mode)",
        r"too many (?:connections|clients)",
        r"deadlock detected",
        r"could not serialize access",
    )),
    re.IGNORECASE,
)

# Three retries, 15 s, 45 s and 105 s after the failure (Dagster's exponential backoff: (2^n - 1) x delay),
# each moved by up to +/- 15 s at random so runs that failed together do not retry together.
WAREHOUSE_RETRY_POLICY = RetryPolicy(max_retries=3, delay=15, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def is_transient(error: BaseException) -> bool:
    """True when `error` or an exception it was raised from names a transient warehouse problem."""
    seen: BaseException | None = error
    while seen is not None:
        if TRANSIENT.search(str(seen)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_only_if_transient(error: Exception, what: str) -> Exception:
    """The exception to raise: `error` itself (the retry policy applies) when transient, otherwise a
    Failure that bypasses the retry policy."""
    if is_transient(error):
        return error
    return Failure(description=f"{what} failed (not retried: not a transient warehouse error)\n{error}",
                   allow_retries=False)
