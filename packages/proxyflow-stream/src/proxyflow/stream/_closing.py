"""Closing shared by `StreamProducer` and `StreamConsumer`."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import TypeVar

from proxyflow.store import Store

__all__ = ["ClosesOnExit", "close_stores"]

_C = TypeVar("_C", bound="ClosesOnExit")


class ClosesOnExit:
    """Makes a class a context manager whose exit calls its ``close()``."""

    def close(self) -> None:
        """Release what the object holds; subclasses implement it."""
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def close_stores(stores: Iterable[Store]) -> None:
    """Close every distinct store of ``stores`` once, in order.

    Closing a store releases its connections only; stored objects stay.
    """
    for store in {id(store): store for store in stores}.values():
        store.close()
