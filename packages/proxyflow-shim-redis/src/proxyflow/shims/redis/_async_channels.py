"""One ``redis.asyncio`` pub/sub connection subscribed to a set of channels, confirmed before use.

The asyncio form of [`Channels`][proxyflow.shims.redis.channels.Channels].
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import redis.asyncio

from proxyflow.api import redact_url
from proxyflow.shims.redis.connection import REDIS_ERRORS, open_async_client, translate_errors
from proxyflow.shims.redis.exceptions import BrokerConnectionError

__all__ = ["AsyncChannels"]


class AsyncChannels:
    """A pub/sub connection subscribed to ``channels``; build it with `AsyncChannels.open`."""

    def __init__(self, url: str, channels: Sequence[str], client: redis.asyncio.Redis) -> None:
        self._url = url
        self._channels = tuple(channels)
        self._client = client
        self._pubsub: Any = client.pubsub()
        self._early: deque[bytes] = deque()

    @classmethod
    async def open(
        cls,
        url: str,
        channels: Sequence[str],
        *,
        socket_timeout: float | None,
        connect_timeout: float | None,
    ) -> AsyncChannels:
        """Connect and subscribe; return once Redis confirmed every subscription.

        Raises:
            RedisShimError: the error for a server that cannot be used, or
                `BrokerConnectionError` if the subscriptions are not confirmed
                within ``connect_timeout`` (``None``: 5 s).
        """
        client = await open_async_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        channels_ = cls(url, channels, client)
        try:
            await channels_._subscribe(5.0 if connect_timeout is None else connect_timeout)
        except BaseException:
            await channels_.close()
            raise
        return channels_

    async def _subscribe(self, limit: float) -> None:
        pending = set(self._channels)
        deadline = time.monotonic() + limit
        with translate_errors(self._url, f"subscribing to {list(self._channels)}"):
            await self._pubsub.subscribe(*self._channels)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    safe = redact_url(self._url)
                    raise BrokerConnectionError(
                        f"Redis at {safe} did not confirm subscriptions to "
                        f"{sorted(pending)} within {limit}s",
                        safe,
                    )
                reply = await self._pubsub.get_message(timeout=remaining)
                if reply is None:
                    continue
                if reply["type"] == "subscribe":
                    channel = reply["channel"]
                    pending.discard(channel.decode() if isinstance(channel, bytes) else channel)
                elif reply["type"] in ("message", "pmessage"):
                    self._early.append(reply["data"])  # from a channel confirmed earlier

    async def get(self, wait: float) -> bytes | None:
        """Return the next message within ``wait`` seconds, else ``None``.

        Raises:
            redis.RedisError: as redis-py raises it; the caller translates it.
        """
        if self._early:
            return self._early.popleft()
        reply = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
        if reply is not None and reply["type"] in ("message", "pmessage"):
            data: bytes = reply["data"]
            return data
        return None

    async def close(self) -> None:
        """Close the connection (unread messages are dropped); idempotent."""
        with contextlib.suppress(*REDIS_ERRORS):
            await self._pubsub.aclose()
        with contextlib.suppress(*REDIS_ERRORS):
            await self._client.aclose()
