"""Errors raised by [`proxyflow.cli`][proxyflow.cli].

Each error also derives from the built-in class a caller would catch anyway,
so the command line can turn them into one-line messages:

```text
DemoError
 ├── InvalidOptionError      (also ValueError)   a value given to an option is malformed
 ├── BackendUnreachableError (also ConnectionError) the broker or store cannot be reached
 └── PipelineError           (also RuntimeError) a demo process failed or stalled
```
"""

from __future__ import annotations

__all__ = ["BackendUnreachableError", "DemoError", "InvalidOptionError", "PipelineError"]


class DemoError(Exception):
    """Base class of every error raised by [`proxyflow.cli`][proxyflow.cli]."""


class InvalidOptionError(DemoError, ValueError):
    """An option value cannot be used (a malformed size or URL, an unusable directory).

    Attributes:
        option: The command-line option at fault (``"--store"``...), or ``None``
            when the caller knows it better.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class BackendUnreachableError(DemoError, ConnectionError):
    """The broker or the store named on the command line does not answer.

    Attributes:
        option: The command-line option that named the backend (``"--broker"``...).
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class PipelineError(DemoError, RuntimeError):
    """The generator or a worker process failed, or the stream stalled."""
