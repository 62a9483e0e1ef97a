"""How a store hands serialized objects to its connector: joined, as pieces, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from proxyflow.api.protocols import BytesLike, Connector, Key

__all__ = ["VECTORED_PUT_MIN_BYTES", "Written", "put_pieces", "put_pieces_batch", "undo"]

VECTORED_PUT_MIN_BYTES = 64 * 1024
"""Serialized size from which a store hands pickled objects to ``put_parts`` in pieces.

Below it, joining the (small) pieces costs less than a vectored write.
"""

PutParts = Callable[[Sequence[BytesLike]], Key]


class Written(NamedTuple):
    """The outcome of storing serialized objects."""

    keys: list[Key]
    """The connector keys, in input order."""
    sizes: list[int]
    """The serialized size of each object, in bytes."""


def put_pieces(connector: Connector, put_parts: PutParts, parts: list[BytesLike]) -> Key:
    """Store one object given as pieces (from ``serialize_parts``); large ones without joining."""
    if len(parts) == 1:
        return connector.put(parts[0])
    if sum(map(len, parts)) >= VECTORED_PUT_MIN_BYTES:
        return put_parts(parts)
    return connector.put(b"".join(parts))


def put_pieces_batch(
    connector: Connector, put_parts: PutParts, serialized: Sequence[list[BytesLike]]
) -> Written:
    """Store several objects given as pieces, all or nothing.

    Small objects go to one ``put_batch`` call; each large one to
    ``put_parts``. If a call fails, the objects stored by the earlier calls
    are evicted before the error propagates (see `undo`).
    """
    sizes = [sum(map(len, parts)) for parts in serialized]
    keys: list[Key] = [None] * len(serialized)
    small: list[int] = []
    datas: list[BytesLike] = []
    for i, parts in enumerate(serialized):
        if len(parts) == 1:
            datas.append(parts[0])
        elif sizes[i] >= VECTORED_PUT_MIN_BYTES:
            continue
        else:
            datas.append(b"".join(parts))
        small.append(i)
    stored: list[Key] = []
    try:
        if datas:
            for i, key in zip(small, connector.put_batch(datas), strict=True):
                keys[i] = key
                stored.append(key)
        if len(small) < len(serialized):
            taken = set(small)
            for i, parts in enumerate(serialized):
                if i not in taken:
                    keys[i] = put_parts(parts)
                    stored.append(keys[i])
    except BaseException as exc:
        undo(connector, stored, exc)
        raise
    return Written(keys, sizes)


def undo(connector: Connector, keys: Sequence[Key], error: BaseException) -> None:
    """Evict ``keys`` after ``error`` interrupted a write; report any that stay.

    Keys that cannot be evicted (the backend is failing) are recorded on
    ``error`` as ``leftover_keys`` and, on Python 3.11+, in a note, so the
    caller learns exactly what was left behind.
    """
    left: list[Key] = []
    for key in keys:
        try:
            connector.evict(key)
        except Exception:
            left.append(key)
    if left:
        _record_leftovers(error, left)


def _record_leftovers(error: BaseException, keys: list[Key]) -> None:
    previous: tuple[Any, ...] = getattr(error, "leftover_keys", ())
    error.leftover_keys = (*previous, *keys)  # type: ignore[attr-defined]
    add_note = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(
            f"{len(keys)} object(s) stored by this batch could not be removed "
            f"afterwards: keys {keys!r}"
        )
