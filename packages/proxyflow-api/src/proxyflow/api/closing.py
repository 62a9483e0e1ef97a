"""Context-manager bases for objects that hold a connection or a thread."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["AsyncCloseable", "Closeable"]

_C = TypeVar("_C", bound="Closeable")
_A = TypeVar("_A", bound="AsyncCloseable")


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
