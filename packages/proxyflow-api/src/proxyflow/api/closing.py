"""A context-manager base for objects that hold a connection or a thread."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closeable"]

_C = TypeVar("_C", bound="Closeable")


class Closeable:
    """Makes a class a context manager whose exit calls its ``close()``.

    Subclasses implement ``close()``, which must be idempotent.

    Example:
        ```python
        from proxyflow.api import Closeable


        class Resource(Closeable):
            closed = False

            def close(self) -> None:
                self.closed = True


        with Resource() as resource:
            pass
        assert resource.closed
        ```
    """

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
