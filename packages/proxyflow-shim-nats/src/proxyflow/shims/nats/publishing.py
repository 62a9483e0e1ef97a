"""One JetStream publish, acknowledged by the server, retried safely until a deadline.

Every message carries a ``Nats-Msg-Id``. When the server's acknowledgement
(``PubAck``) does not come in time, because the connection was lost or the
server is restarting, the message is sent again with the same id until the
deadline passes: JetStream stores a message id once within the stream's
duplicate window, so a retry never stores a second copy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from proxyflow.api import Message
from proxyflow.shims.nats.exceptions import (
    BrokerTimeoutError,
    BrokerUnavailableError,
    MessageTooLargeError,
)
from proxyflow.shims.nats.translation import translate_error

__all__ = [
    "EXPECTED_STREAM_HEADER",
    "MSG_ID_HEADER",
    "PublishPolicy",
    "header_size",
    "publish_acknowledged",
]

MSG_ID_HEADER = "Nats-Msg-Id"
"""JetStream's de-duplication header."""

EXPECTED_STREAM_HEADER = "Nats-Expected-Stream"
"""Makes the server refuse a message that would land in another stream."""

_RETRYABLE = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionReconnectingError,
    asyncio.TimeoutError,
)


class PublishPolicy:
    """How long a publish may take.

    Args:
        timeout: Seconds until a send gives up (all attempts together).
        attempt_timeout: Seconds one attempt waits for the server's acknowledgement.
    """

    __slots__ = ("attempt_timeout", "timeout")

    def __init__(self, timeout: float = 10.0, attempt_timeout: float = 2.0) -> None:
        if not timeout > 0:
            raise ValueError(f"publish_timeout must be > 0, got {timeout!r}")
        self.timeout = timeout
        self.attempt_timeout = min(attempt_timeout, timeout)


def header_size(headers: Mapping[str, str]) -> int:
    """Return the size of the header block NATS sends for ``headers``.

    The server counts it, with the payload, against its ``max_payload``.
    """
    return len(b"NATS/1.0\r\n\r\n") + sum(len(k) + len(v) + 4 for k, v in headers.items())


def _check_size(client: Client, payload: Message, headers: Mapping[str, str], url: str) -> None:
    size = len(memoryview(payload)) + header_size(headers)
    if size > client.max_payload:
        raise MessageTooLargeError(
            f"NATS at {url}: a message of {size} bytes (with headers) is over the server's "
            f"max_payload of {client.max_payload} bytes; raise max_payload in the server "
            "configuration or send smaller messages (proxyflow events stay small when the "
            "objects go to a store)",
            url,
        )


async def publish_acknowledged(
    client: Client,
    subject: str,
    payload: Message,
    headers: dict[str, str],
    policy: PublishPolicy,
    *,
    url: str,
    doing: str | Callable[[], str],
) -> int:
    """Publish ``payload`` on ``subject`` and return its stream sequence once stored.

    ``headers`` must include a ``Nats-Msg-Id`` unique to this message, so that
    retries are stored once. ``doing`` names the publish in errors (a callable
    is called only when there is an error to report).

    Raises:
        MessageTooLargeError: if the message is over the server's ``max_payload``.
        BrokerTimeoutError: if no attempt was acknowledged before the deadline.
        StreamFullError: if the stream refused the message for lack of room.
        BrokerUnavailableError: if the connection is closed for good.
    """
    _check_size(client, payload, headers, url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.timeout
    last: BaseException | None = None
    pause = 0.05
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise BrokerTimeoutError(
                f"NATS at {url}: {_text(doing)}: not acknowledged by the server within "
                f"{policy.timeout}s ({last}); the message may not be stored",
                url,
            )
        try:
            reply = await client.request(
                subject,
                payload,  # type: ignore[arg-type]  # nats-py writes any bytes-like
                timeout=min(remaining, policy.attempt_timeout),
                headers=headers,
            )
        except _RETRYABLE as exc:
            last = exc
        except Exception as exc:
            translated = translate_error(exc, url, _text(doing))
            if translated is exc:
                raise
            raise translated from exc
        else:
            try:
                return _stream_sequence(reply.data)
            except nats.js.errors.ServiceUnavailableError as exc:
                translated = translate_error(exc, url, _text(doing))
                if not isinstance(translated, BrokerUnavailableError):
                    raise translated from exc  # a full stream: retrying cannot help
                last = exc  # JetStream is starting or electing a leader: try again
            except nats.js.errors.APIError as exc:
                raise translate_error(exc, url, _text(doing)) from exc
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, 0.5)


def _text(doing: str | Callable[[], str]) -> str:
    return doing if isinstance(doing, str) else doing()


def _stream_sequence(data: bytes) -> int:
    """Return the stream sequence of a ``PubAck``, or raise its JetStream error."""
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise nats.js.errors.APIError(description=f"not a JetStream acknowledgement: {data[:80]!r}")
    if "error" in answer:
        nats.js.errors.APIError.from_error(answer["error"])  # raises the typed error
    seq = answer.get("seq")
    if not isinstance(seq, int):
        raise nats.js.errors.APIError(description=f"a PubAck without a sequence: {data[:80]!r}")
    return seq
