"""Translation of the ``OSError`` of a file-system operation into a typed connector error."""

from __future__ import annotations

import errno

from proxyflow.connectors.exceptions import (
    ConnectorAuthenticationError,
    ConnectorConnectionError,
    ConnectorError,
    ConnectorFullError,
    ConnectorIOError,
    ConnectorObjectTooLargeError,
    ConnectorTimeoutError,
)

__all__ = ["translate_os_error"]

_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_DENIED = frozenset({errno.EACCES, errno.EPERM})
_GONE = frozenset(
    code
    for code in (
        errno.ENOENT,
        errno.ENOTDIR,
        getattr(errno, "ESTALE", None),
        getattr(errno, "ENOTCONN", None),
        getattr(errno, "EHOSTDOWN", None),
        getattr(errno, "ENODEV", None),
        errno.ENXIO,
    )
    if code is not None
)


def translate_os_error(exc: OSError, *, action: str, store_dir: str) -> ConnectorError:
    """Return the typed error for ``exc``, raised while doing ``action`` in ``store_dir``.

    The message says what happened and what to do. The errors that are
    ``OSError`` subclasses keep ``errno``; the original is always ``__cause__``.

    Args:
        exc: The error of the operating system.
        action: What was being done, e.g. ``"writing an object of 1048576 bytes"``.
        store_dir: The store directory, named in the message.
    """
    code = exc.errno
    reason = exc.strerror or str(exc)
    where = f"{action} in the store directory {store_dir!r}"
    error: ConnectorError
    if code in _FULL:
        error = ConnectorFullError(
            f"no room left ({reason}) while {where}: free space (or quota) on that file "
            "system, or use a store directory on a larger one; nothing of this write was kept",
            store_dir,
        )
    elif code == errno.EFBIG:
        error = ConnectorObjectTooLargeError(
            f"the object is too large for the file system or the process's file-size "
            f"limit ({reason}) while {where}; nothing of this write was kept",
            store_dir,
        )
    elif code in _DENIED:
        error = ConnectorAuthenticationError(
            f"permission denied ({reason}) while {where}: the directory and its files "
            "must be readable and writable by this process's user",
            store_dir,
        )
    elif code in _GONE:
        error = ConnectorConnectionError(
            f"the store directory is gone or unreachable ({reason}) while {where}: "
            "check that it still exists and that its file system is mounted",
            store_dir,
        )
    elif code == errno.ETIMEDOUT:
        error = ConnectorTimeoutError(
            f"the file system did not answer in time ({reason}) while {where}", store_dir
        )
    else:
        error = ConnectorIOError(f"{reason} while {where}", store_dir)
    if isinstance(error, OSError):
        error.errno = code
    return error
