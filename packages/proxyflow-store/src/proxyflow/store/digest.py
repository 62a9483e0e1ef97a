"""Content digests: a short fingerprint of the bytes a store holds, checked before reading them.

A signed stream event (see ``proxyflow.stream``) carries the digest of each
stored object's bytes. A reader that knows the digest checks the bytes it
fetched against it **before** deserializing them, so bytes swapped in storage
by someone who can write there are rejected instead of unpickled.

The digest is SHA-256 (``hashlib.sha256``, in the standard library). It
resists deliberate collisions (a 128-bit security level), which a digest
standing for content must: a checksum such as CRC32 or xxHash would let an
attacker build other bytes with the same value. Of the sound hashes the
standard library offers it is the fastest on current processors, which
compute it in hardware (SHA extensions of x86 since AMD Zen and Intel Ice
Lake, ARMv8 crypto extensions): measured on the project's machine, 16 MiB in
7.7 ms (2.0 GB/s) against 11.4 ms for BLAKE2b and 1 KiB in 0.7 us against
1.0 us. BLAKE3 (the ``blake3`` wheel) took 1.6 ms, but it would make a
compiled dependency of every install for a cost only signed streams of large
objects pay. The digest is computed over the pieces a store writes, without
joining them.

Examples:
    >>> from proxyflow.store.digest import content_digest, check_digest
    >>> digest = content_digest([b"hello ", b"world"])
    >>> digest == content_digest([b"hello world"]), len(digest)
    (True, 32)
    >>> check_digest(b"hello world", digest)
    >>> check_digest(b"hello w0rld", digest)
    Traceback (most recent call last):
    ...
    proxyflow.store.exceptions.ContentDigestError: ...
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, NamedTuple

from proxyflow.api.protocols import BytesLike, Key
from proxyflow.serialize import Deserializer
from proxyflow.store.exceptions import ContentDigestError

__all__ = ["DIGEST_SIZE", "CheckedDeserializer", "Digested", "check_digest", "content_digest"]

DIGEST_SIZE = 32
"""Bytes in a content digest."""

_sha256 = hashlib.sha256
_same = hmac.compare_digest


class Digested(NamedTuple):
    """A stored object's key and the content digest of the bytes stored for it."""

    key: Key
    """The connector key."""
    digest: bytes
    """`content_digest` of the stored bytes."""


def content_digest(pieces: Iterable[BytesLike]) -> bytes:
    """Return the digest of the bytes ``pieces`` make when joined (they are not joined).

    Args:
        pieces: The bytes, in one or more flat pieces.

    Returns:
        `DIGEST_SIZE` bytes.
    """
    hasher = _sha256()
    for piece in pieces:
        hasher.update(piece)
    return hasher.digest()


def check_digest(data: BytesLike, expected: bytes) -> None:
    """Check that ``data`` has the content digest ``expected``.

    Raises:
        ContentDigestError: If it has another digest: the bytes are not those
            that were stored (changed in storage, or the key was reused).
    """
    actual = _sha256(data).digest()
    if not _same(actual, expected):
        raise ContentDigestError(
            f"the stored bytes ({len(data)} bytes) do not match the digest their event "
            "carries: they were changed in storage after the producer wrote them; the "
            "object was not deserialized. Check who can write to this store"
        )


class CheckedDeserializer:
    """A deserializer that checks the bytes' content digest before handing them on.

    Pass it as ``deserializer=`` to [`Store.get`][proxyflow.store.store.Store.get]:
    the store then reads the bytes, this checks them, and only matching bytes
    reach ``loads``.

    Args:
        loads: The deserializer to call on bytes that match.
        digest: The expected content digest.
    """

    __slots__ = ("digest", "loads")

    def __init__(self, loads: Deserializer, digest: bytes) -> None:
        self.loads = loads
        self.digest = digest

    def __call__(self, data: BytesLike) -> Any:
        """Check ``data`` against the digest, then deserialize it.

        Raises:
            ContentDigestError: If the digest differs (``loads`` is not called).
        """
        check_digest(data, self.digest)
        return self.loads(data)
