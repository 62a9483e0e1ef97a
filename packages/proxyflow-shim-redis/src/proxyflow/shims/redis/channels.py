"""One pub/sub connection subscribed to a set of channels, confirmed before use."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Sequence

import redis
from redis.client import PubSub

from proxyflow.api import redact_url
from proxyflow.shims.redis.connection import REDIS_ERRORS, open_client, translate_errors
from proxyflow.shims.redis.exceptions import BrokerConnectionError

__all__ = ["Channels"]


class Channels:
    """A pub/sub connection to ``url`` subscribed to ``channels``.

    The constructor returns once Redis has confirmed every subscription, so a
    message published after it returns is received. Messages that arrive
    while later subscriptions are still being confirmed are kept and returned
    first.

    Args:
        url: The server URL.
        channels: The channels to subscribe to.
        socket_timeout: Seconds reading a started message or writing may take.
        connect_timeout: Seconds connecting and confirming may take (``None``: 5).

    Raises:
        RedisShimError: the error for a server that cannot be used, or
            [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
            if the subscriptions are not confirmed within ``connect_timeout``.
    """

    def __init__(
        self,
        url: str,
        channels: Sequence[str],
        *,
        socket_timeout: float | None,
        connect_timeout: float | None,
    ) -> None:
        self._url = url
        self._channels = tuple(channels)
        self._early: deque[bytes] = deque()
        self._client: redis.Redis = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        self._pubsub: PubSub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            self._subscribe(5.0 if connect_timeout is None else connect_timeout)
        except BaseException:
            self.close()
            raise

    def _subscribe(self, limit: float) -> None:
        pending = set(self._channels)
        deadline = time.monotonic() + limit
        with translate_errors(self._url, f"subscribing to {list(self._channels)}"):
            self._pubsub.subscribe(*self._channels)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    safe = redact_url(self._url)
                    raise BrokerConnectionError(
                        f"Redis at {safe} did not confirm subscriptions to "
                        f"{sorted(pending)} within {limit}s",
                        safe,
                    )
                reply = self._pubsub.get_message(timeout=remaining)
                if reply is None:
                    continue
                if reply["type"] == "subscribe":
                    pending.discard(_text(reply["channel"]))
                elif reply["type"] in ("message", "pmessage"):
                    self._early.append(reply["data"])  # from a channel confirmed earlier

    def get(self, wait: float) -> bytes | None:
        """Return the next message within ``wait`` seconds, else ``None``.

        Raises:
            redis.RedisError: as redis-py raises it; the caller translates it.
        """
        if self._early:
            early: bytes = self._early.popleft()
            return early
        reply = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
        if reply is not None and reply["type"] in ("message", "pmessage"):
            data: bytes = reply["data"]
            return data
        return None

    def close(self) -> None:
        """Close the connection (unread messages are dropped); idempotent."""
        with contextlib.suppress(*REDIS_ERRORS):
            self._pubsub.close()
        self._client.close()


def _text(channel: bytes | str) -> str:
    return channel.decode() if isinstance(channel, bytes) else channel
