"""Signed events: a MAC over the whole message, digests of the stored bytes, checked before use.

With a signing key, a producer wraps every message it publishes:

```text
SignedEvent   [1, 5, mac, digests, event]
```

* ``event`` (bin) is the unsigned message, exactly as the producer would
  publish it without a key (its producer id, topic and sequence numbers
  included);
* ``digests`` (bin, or nil when the event holds no stored object) is the
  [`content_digest`][proxyflow.store.digest.content_digest] of each stored
  object's bytes, 32 bytes each, in the order of the event's objects;
* ``mac`` (bin, 32 bytes) is HMAC-SHA256 under the signing key, over the
  length of ``digests`` (4 bytes, big-endian), ``digests`` and ``event``:
  the whole message but the MAC itself. SHA-256 runs in hardware on current
  processors, so it is the fastest MAC of the standard library for large
  inline payloads; small messages are joined and MACed in one call.

A consumer with the key checks the MAC first (a mismatch is
[`ForgedEventError`][proxyflow.stream.exceptions.ForgedEventError]; an
unwrapped message is
[`UnsignedEventError`][proxyflow.stream.exceptions.UnsignedEventError]),
then that the signed topic is one it reads
([`ReplayedEventError`][proxyflow.stream.exceptions.ReplayedEventError]
otherwise), and hands each stored object's digest to the read, which checks
the bytes before deserializing them.

Without a key nothing of this runs: the unsigned path does no extra work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Collection

from proxyflow.store import DIGEST_SIZE
from proxyflow.stream._decode import SIGNED_HEAD, Batch, DecodedEvent, StoredItem, decode
from proxyflow.stream.exceptions import (
    EventDecodeError,
    ForgedEventError,
    ReplayedEventError,
    UnsignedEventError,
)

__all__ = [
    "MIN_KEY_BYTES",
    "SIGNING_KEY_ENV",
    "Signer",
    "Verifier",
    "signing_key",
]

SIGNING_KEY_ENV = "PROXYFLOW_SIGNING_KEY"
"""Environment variable holding the signing key when none is passed (UTF-8 text)."""

MIN_KEY_BYTES = 16
"""The shortest signing key accepted, in bytes."""

MAC_SIZE = 32
"""Bytes in an event's MAC."""

_ONE_SHOT_MAX = 64 * 1024
"""Messages up to this size are joined with their digests and MACed in one call."""
_NIL = 0xC0
_one_shot = hmac.digest
_new = tuple.__new__  # builds a named tuple from a sequence without a Python-level call
_same = hmac.compare_digest


def signing_key(key: str | bytes | None) -> bytes | None:
    """Return the MAC key for ``key`` or, when it is ``None``, for `SIGNING_KEY_ENV`.

    A ``str`` is taken as UTF-8. Keys of any length from `MIN_KEY_BYTES` work
    (HMAC hashes long keys itself).

    Returns:
        The MAC key, or ``None`` when no key is given and the variable is
        unset or empty (events are then neither signed nor checked).

    Raises:
        ValueError: If the key is shorter than `MIN_KEY_BYTES` bytes.
        TypeError: If it is neither ``str`` nor ``bytes``.
    """
    if key is None:
        key = os.environ.get(SIGNING_KEY_ENV) or None
        if key is None:
            return None
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray)):
        raw = bytes(key)
    else:
        raise TypeError(f"signing_key must be str or bytes, not {type(key).__name__}")
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(
            f"signing_key must have at least {MIN_KEY_BYTES} bytes, got {len(raw)}: "
            "use a random key, e.g. secrets.token_hex(32)"
        )
    return raw


def _bin_header(size: int) -> bytes:
    if size < 0x100:
        return bytes((0xC4, size))
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def _mac(key: bytes, digests: bytes | memoryview, body: bytes | memoryview) -> bytes:
    size = len(digests).to_bytes(4, "big")
    if len(body) <= _ONE_SHOT_MAX:
        return _one_shot(key, b"".join((size, digests, body)), "sha256")
    hasher = hmac.new(key, size, hashlib.sha256)
    hasher.update(digests)
    hasher.update(body)
    return hasher.digest()


class Signer:
    """Wraps the producer's messages into signed messages.

    Args:
        key: The MAC key (from `signing_key`).
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def seal(self, message: bytes, digests: bytes | None = None) -> bytes:
        """Return the signed message wrapping ``message``.

        Args:
            message: The unsigned message.
            digests: The joined content digests of its stored objects, if any.
        """
        digests = digests or b""
        mac = _mac(self._key, digests, message)
        return b"".join(
            (
                SIGNED_HEAD,
                b"\xc4\x20",
                mac,
                _bin_header(len(digests)) + digests if digests else b"\xc0",
                _bin_header(len(message)),
                message,
            )
        )


def _read_bin(view: memoryview, at: int) -> tuple[memoryview, int]:
    marker = view[at]
    if marker == 0xC4:
        width = 1
    elif marker == 0xC5:
        width = 2
    elif marker == 0xC6:
        width = 4
    else:
        raise EventDecodeError("signed event: expected a bin field")
    begin = at + 1 + width
    end = begin + int.from_bytes(view[at + 1 : begin], "big")
    if end > len(view):
        raise EventDecodeError("signed event is truncated")
    return view[begin:end], end


class Verifier:
    """Checks and unwraps signed messages for a consumer with a signing key.

    Args:
        key: The MAC key (from `signing_key`).
        topics: The topics the consumer reads; a signed event of another topic
            is rejected (empty: not checked).
    """

    __slots__ = ("_key", "_topics")

    def __init__(self, key: bytes, topics: Collection[str]) -> None:
        self._key = key
        self._topics = frozenset(topics)

    def decode(self, data: bytes | bytearray | memoryview) -> DecodedEvent:
        """Check a signed message and decode the event inside, with its objects' digests.

        Raises:
            UnsignedEventError: If the message is not signed.
            ForgedEventError: If the MAC does not match.
            ReplayedEventError: If the event's topic is not one of the consumer's.
            EventDecodeError: If the message is malformed.
        """
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        if view[:3] != SIGNED_HEAD:
            raise UnsignedEventError(
                "this consumer has a signing key and the event is not signed: its producer "
                "needs the same signing_key= (or PROXYFLOW_SIGNING_KEY); event dropped"
            )
        try:
            if view[3] != 0xC4 or view[4] != MAC_SIZE:
                raise EventDecodeError("signed event: bad MAC field")
            mac = view[5 : 5 + MAC_SIZE]
            at = 5 + MAC_SIZE
            if view[at] == _NIL:
                digests, at = view[at:at], at + 1
            else:
                digests, at = _read_bin(view, at)
            body, end = _read_bin(view, at)
        except IndexError:
            raise EventDecodeError("signed event is truncated") from None
        if end != len(view):
            raise EventDecodeError("signed event has trailing bytes")
        if not _same(_mac(self._key, digests, body), mac):
            raise ForgedEventError(
                "signed event does not match its MAC under this consumer's key: it was "
                "changed on the way or signed with another key; event dropped"
            )
        if body[:3] == SIGNED_HEAD:
            raise EventDecodeError("a signed event cannot hold another signed event")
        event = decode(body)
        topic = event.topic
        if self._topics and topic not in self._topics:
            raise ReplayedEventError(
                f"a signed event of topic {topic!r} arrived for a consumer of "
                f"{sorted(self._topics)}: it was copied from another topic; event dropped"
            )
        return _with_digests(event, bytes(digests))


def _with_digests(event: DecodedEvent, digests: bytes) -> DecodedEvent:
    if isinstance(event, StoredItem):
        if len(digests) != DIGEST_SIZE:
            raise EventDecodeError("signed key event needs exactly one digest")
        return _new(StoredItem, (*event[:7], digests))
    if isinstance(event, Batch) and event.store_config is not None:
        items = event.items
        if len(digests) != DIGEST_SIZE * len(items):
            raise EventDecodeError("signed batch event needs one digest per object")
        size = DIGEST_SIZE
        items[:] = [
            _new(StoredItem, (*item[:7], digests[i * size : (i + 1) * size]))
            for i, item in enumerate(items)
        ]
        return event
    if digests:
        raise EventDecodeError("signed event carries digests but no stored object")
    return event
