"""Errors of [`proxyflow.executors`][proxyflow.executors].

```text
ProxyflowError
 └── ExecutorsError
      ├── UnsupportedExecutorError (TypeError)   not an Executor nor a Dask client
      ├── DispatcherClosedError                  the dispatcher was closed
      ├── DispatchCancelledError                 the item's task never finished (close)
      └── DispatchTimeoutError     (TimeoutError) nothing happened within ``timeout``
```
"""

from __future__ import annotations

from proxyflow.api import ProxyflowError

__all__ = [
    "DispatchCancelledError",
    "DispatchTimeoutError",
    "DispatcherClosedError",
    "ExecutorsError",
    "UnsupportedExecutorError",
]


class ExecutorsError(ProxyflowError):
    """Base class of the errors of ``proxyflow.executors``."""


class UnsupportedExecutorError(ExecutorsError, TypeError):
    """The executor is neither a ``concurrent.futures.Executor`` nor a Dask ``Client``."""


class DispatcherClosedError(ExecutorsError):
    """The dispatcher was closed (or is already being iterated)."""


class DispatchCancelledError(ExecutorsError):
    """An item's task did not finish because the dispatcher was closed first."""


class DispatchTimeoutError(ExecutorsError, TimeoutError):
    """No task finished and the stream did not move within the dispatcher's ``timeout``."""
