"""Context-manager bases for objects that hold a connection or a thread."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["AsyncCloseable", "AsyncOpenable", "Closeable"]

_C = TypeVar("_C", bound="Closeable")
_A = TypeVar("_A", bound="AsyncCloseable")
_O = TypeVar("_O", bound="AsyncOpenable")


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


class AsyncCloseable:
    """Makes a class an async context manager whose exit awaits its ``close()``.

    The asyncio form of [`Closeable`][proxyflow.api.closing.Closeable]:
    subclasses implement the coroutine ``close()``, which must be idempotent.

    Example:
        ```python
        import asyncio

        from proxyflow.api import AsyncCloseable


        class Resource(AsyncCloseable):
            closed = False

            async def close(self) -> None:
                self.closed = True


        async def main() -> Resource:
            async with Resource() as resource:
                pass
            return resource


        assert asyncio.run(main()).closed
        ```
    """

    async def close(self) -> None:
        """Release what the object holds; subclasses implement it."""
        raise NotImplementedError

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncOpenable(AsyncCloseable):
    """An [`AsyncCloseable`][proxyflow.api.closing.AsyncCloseable] that connects on entry.

    For asyncio objects that cannot connect in ``__init__`` (no event loop to
    await on there): subclasses implement the coroutine ``open()``, which
    connects and returns the object itself, and ``close()``. ``async with``
    awaits ``open()`` on entry and ``close()`` on exit.

    Example:
        ```python
        import asyncio

        from proxyflow.api import AsyncOpenable


        class Connection(AsyncOpenable):
            state = "new"

            async def open(self) -> "Connection":
                self.state = "open"
                return self

            async def close(self) -> None:
                self.state = "closed"


        async def main() -> list[str]:
            connection = Connection()
            async with connection as opened:
                seen = [opened.state]
            return [*seen, connection.state]


        assert asyncio.run(main()) == ["open", "closed"]
        ```
    """

    async def open(self: _O) -> _O:
        """Connect and return ``self``; subclasses implement it."""
        raise NotImplementedError

    async def __aenter__(self: _O) -> _O:
        return await self.open()
