"""What the Streams shim asks of the server: its version, and the meaning of its error replies."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from proxyflow.api import redact_url
from proxyflow.shims.redis.connection import REDIS_ERRORS, broker_error
from proxyflow.shims.redis.exceptions import RedisShimError, StreamsUnsupportedError

__all__ = [
    "CLAIM_VERSION",
    "TRIM_REPORT_VERSION",
    "check_version",
    "is_missing_group",
    "streams_errors",
]

CLAIM_VERSION = (6, 2)
"""``XAUTOCLAIM`` (reclaiming a dead consumer's entries) and ``XPENDING ... IDLE``."""
TRIM_REPORT_VERSION = (7, 0)
"""The consumer groups' read counters (``entries-read``, ``lag``) that reveal trimmed entries."""

_VERSION = re.compile(rb"^(\d+)\.(\d+)")


def server_version(info: Mapping[str, Any]) -> tuple[int, int] | None:
    """Return ``(major, minor)`` from the reply of ``INFO server``, or ``None`` if absent."""
    raw = info.get("redis_version")
    text = raw if isinstance(raw, bytes) else str(raw).encode()
    match = _VERSION.match(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_version(
    info: Mapping[str, Any] | None, minimum: tuple[int, int], needs: str, url: str
) -> None:
    """Raise `StreamsUnsupportedError` if the server is older than ``minimum``.

    Args:
        info: The reply of ``INFO server`` (``None`` when the server refused
            ``INFO``: then commands fail later with the same error class).
        minimum: The oldest ``(major, minor)`` that works.
        needs: What needs it, for the message.
        url: The server URL (shown redacted).
    """
    version = None if info is None else server_version(info)
    if version is not None and version < minimum:
        want = ".".join(map(str, minimum))
        have = ".".join(map(str, version))
        raise StreamsUnsupportedError(
            f"Redis at {redact_url(url)} is version {have}; {needs} needs Redis {want} or "
            "later: upgrade the server (or use the list queues, RedisQueuePublisher)",
            redact_url(url),
        )


def is_missing_group(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis's ``NOGROUP`` reply (the stream or its group was deleted).

    Redis 6.2 wraps the errors of scripts (``Error running script ...: NOGROUP ...``).
    """
    return isinstance(exc, redis.ResponseError) and "NOGROUP" in str(exc)


def command_error(exc: BaseException, url: str, doing: str) -> RedisShimError:
    """Return the shim's error for an exception of redis-py raised by a Streams command.

    A command the server does not know means a server too old for the shim
    ([`StreamsUnsupportedError`][proxyflow.shims.redis.StreamsUnsupportedError]);
    anything else is what
    [`broker_error`][proxyflow.shims.redis.connection.broker_error] says.
    """
    text = str(exc).lower()
    if isinstance(exc, redis.ResponseError) and (
        "unknown command" in text or "unknown redis command" in text
    ):
        safe = redact_url(url)
        return StreamsUnsupportedError(
            f"Redis at {safe}: {doing} failed, the server does not know the command "
            f"({exc}); the Streams shim needs Redis 6.2 or later",
            safe,
        )
    return broker_error(exc, url, doing)


@contextlib.contextmanager
def streams_errors(url: str, doing: str) -> Iterator[None]:
    """Raise the shim's error (see `command_error`) for a redis-py error raised in the block."""
    try:
        yield
    except RedisShimError:
        raise
    except REDIS_ERRORS as exc:
        raise command_error(exc, url, doing) from exc
