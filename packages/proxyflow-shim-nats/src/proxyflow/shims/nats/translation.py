"""Translating nats-py's errors into the shim's typed errors.

Every error of nats-py (and of the socket layer) that a call meets becomes
one of [`proxyflow.shims.nats.exceptions`][proxyflow.shims.nats.exceptions],
with a message naming the server's redacted URL, what was being done and
what to do about it. JetStream API errors are told apart by their error code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import nats.errors
import nats.js.errors
from proxyflow.shims.nats.exceptions import (
    BrokerAuthenticationError,
    BrokerProtocolError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    MessageTooLargeError,
    NatsShimError,
    StreamFullError,
    StreamNotFoundError,
)

__all__ = ["is_auth_error", "translate_error", "translate_errors"]

# JetStream API error codes (nats-server's errors.json) the shim gives a meaning.
_STREAM_NOT_FOUND = 10059
_STORE_FAILED = 10077  # "maximum messages exceeded", "maximum bytes exceeded", ...
_INSUFFICIENT_RESOURCES = 10023
_MESSAGE_TOO_LARGE = 10054
_JETSTREAM_DISABLED = (10039, 10076)


def is_auth_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the server refused the credentials."""
    if isinstance(exc, (nats.errors.AuthorizationError, nats.errors.InvalidUserCredentialsError)):
        return True
    text = str(exc).lower()
    return "authorization violation" in text or "authentication" in text


def translate_error(exc: BaseException, url: str, doing: str) -> BaseException:
    """Return the shim's error for ``exc``, raised while ``doing`` something with ``url``.

    Errors that are already the shim's, and errors that do not come from nats-py
    or the network (a ``ValueError`` of the caller, a cancellation), are
    returned unchanged.

    Args:
        exc: The error raised.
        url: The server's redacted URL.
        doing: What was being done, for the message (``"publishing to 'a'"``).
    """
    if isinstance(exc, (NatsShimError, asyncio.CancelledError)):
        return exc
    where = f"NATS at {url}: {doing} failed"
    if isinstance(exc, nats.js.errors.APIError):
        return _translate_api_error(exc, url, where)
    if isinstance(exc, (nats.js.errors.NoStreamResponseError, nats.errors.NoRespondersError)):
        return BrokerUnavailableError(
            f"{where}: JetStream did not answer (is the server started with JetStream, "
            "'nats-server -js', and is the stream still there?)",
            url,
        )
    if isinstance(exc, nats.errors.MaxPayloadError):
        return MessageTooLargeError(
            f"{where}: the message is larger than the server's max_payload; raise "
            "max_payload in the server configuration or send smaller messages",
            url,
        )
    if isinstance(exc, (nats.errors.TimeoutError, asyncio.TimeoutError, TimeoutError)):
        return BrokerTimeoutError(f"{where}: no answer in time ({exc})", url)
    if is_auth_error(exc):
        return BrokerAuthenticationError(
            f"{where}: the server refused the credentials ({exc}); pass them with "
            "credentials=NatsCredentials(...) or NatsCredentials.from_env(...)",
            url,
        )
    if "permissions violation" in str(exc).lower():
        return BrokerAuthenticationError(f"{where}: not permitted ({exc})", url)
    if isinstance(exc, (OSError, nats.errors.Error)) and not isinstance(
        exc, nats.errors.BadSubjectError
    ):
        if isinstance(exc, OSError) or _is_connection_error(exc):
            return BrokerUnavailableError(f"{where}: {exc or type(exc).__name__}", url)
        return BrokerProtocolError(f"{where}: {exc}", url)
    return exc


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(
        exc,
        (
            nats.errors.NoServersError,
            nats.errors.ConnectionClosedError,
            nats.errors.StaleConnectionError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.ConnectionDrainingError,
            nats.errors.OutboundBufferLimitError,
            nats.errors.SecureConnFailedError,
            nats.errors.SecureConnRequiredError,
            nats.errors.SecureConnWantedError,
        ),
    )


def _translate_api_error(exc: nats.js.errors.APIError, url: str, where: str) -> BaseException:
    code, text = exc.err_code, (exc.description or "").lower()
    detail = f"{exc.description} (code {exc.code}, err_code {exc.err_code})"
    if code == _STREAM_NOT_FOUND:
        return StreamNotFoundError(f"{where}: {detail}", url)
    if code == _MESSAGE_TOO_LARGE or "message size exceeds" in text:
        return MessageTooLargeError(
            f"{where}: {detail}; raise the stream's max_msg_size or send smaller messages", url
        )
    if code in (_STORE_FAILED, _INSUFFICIENT_RESOURCES) and (
        "maximum" in text or "insufficient" in text or "resources" in text
    ):
        return StreamFullError(
            f"{where}: the stream is full: {detail}; consume and acknowledge, raise "
            "max_msgs/max_bytes, or use retention='workqueue' so acknowledged messages "
            "are removed",
            url,
        )
    if code in _JETSTREAM_DISABLED:
        return BrokerProtocolError(f"{where}: JetStream is not enabled: {detail}", url)
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return BrokerUnavailableError(f"{where}: JetStream unavailable: {detail}", url)
    return BrokerProtocolError(f"{where}: {detail}", url)


@contextmanager
def translate_errors(url: str, doing: str) -> Iterator[None]:
    """Translate errors raised inside the block (see ``translate_error``)."""
    try:
        yield
    except Exception as exc:
        translated = translate_error(exc, url, doing)
        if translated is exc:
            raise
        raise translated from exc
