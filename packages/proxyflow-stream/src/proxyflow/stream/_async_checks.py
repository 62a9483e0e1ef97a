"""Refusing a synchronous shim where an asyncio stream needs an asyncio one."""

from __future__ import annotations

import inspect

__all__ = ["check_async"]


def check_async(obj: object, method: str, protocol: str, instead: str) -> None:
    """Raise `TypeError` unless ``obj.<method>`` is a coroutine function.

    Args:
        obj: The publisher or subscriber given.
        method: The method that must be a coroutine function.
        protocol: The protocol it should satisfy, for the message.
        instead: The synchronous class to use for a synchronous object.
    """
    if not inspect.iscoroutinefunction(getattr(obj, method, None)):
        raise TypeError(
            f"{type(obj).__name__}.{method} is not a coroutine function: an asyncio stream "
            f"needs an asyncio shim ({protocol}); use {instead} with a synchronous one"
        )
