"""The root of proxyflow's error tree and the backend failures every plug-in reports.

Every error raised by a proxyflow package derives from
[`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError]. Failures of a
storage system or a message broker are reported with the classes below,
whichever connector or shim met them, so a caller can catch "the store is
full" or "the broker is gone" without knowing redis-py, pyzmq or nats-py.
A package's own error class derives from both its package root and one of
these (for example ``RedisShimError`` and ``BackendUnavailableError``), and
from the built-in class a caller would naturally catch.

```text
ProxyflowError
 └── BackendError                                   a storage system or broker failed
      ├── BackendUnavailableError   (ConnectionError) unreachable, or the connection was lost
      ├── BackendTimeoutError       (TimeoutError)    no answer in time
      ├── BackendAuthenticationError (PermissionError) credentials missing or refused
      ├── BackendFullError                            no room: disk full, maxmemory, quota
      ├── ObjectTooLargeError       (ValueError)      one object is over the backend's limit
      └── BackendProtocolError                        the server is not what was expected
                                                      (not Redis, a missing database, ...)
```

Messages name the backend's address with any password hidden
([`redact_url`][proxyflow.api.urls.redact_url]) and say what to do.
"""

from __future__ import annotations

__all__ = [
    "BackendAuthenticationError",
    "BackendError",
    "BackendFullError",
    "BackendProtocolError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "ObjectTooLargeError",
    "ProxyflowError",
]


class ProxyflowError(Exception):
    """Base class of every error raised by proxyflow."""


class BackendError(ProxyflowError):
    """A storage system or message broker failed.

    Args:
        message: What went wrong and what to do about it.
        backend: The backend's address, password hidden (``""`` when unknown).

    Attributes:
        backend: The backend's address, password hidden (``""`` when unknown).
    """

    def __init__(self, message: str, backend: str = "") -> None:
        super().__init__(message)
        self.backend = backend


class BackendUnavailableError(BackendError, ConnectionError):
    """The backend cannot be reached, or the connection to it was lost."""


class BackendTimeoutError(BackendError, TimeoutError):
    """The backend did not answer within the configured time."""


class BackendAuthenticationError(BackendError, PermissionError):
    """The backend asks for credentials that are missing, or refused the ones given.

    The message names the setting (an environment variable, an option) to use.
    """


class BackendFullError(BackendError):
    """The backend has no room for more data (disk full, Redis ``maxmemory``, a quota)."""


class ObjectTooLargeError(BackendError, ValueError):
    """One object is larger than the backend accepts (Redis ``proto-max-bulk-len``, say)."""


class BackendProtocolError(BackendError):
    """The server does not behave as expected: not the right kind of server, a missing database."""
