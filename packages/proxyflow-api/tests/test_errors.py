"""The error tree: every backend failure is a ProxyflowError and a natural built-in."""

from __future__ import annotations

import pytest

from proxyflow.api import (
    BackendAuthenticationError,
    BackendError,
    BackendFullError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    ObjectTooLargeError,
    ProxyflowError,
)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (BackendUnavailableError, ConnectionError),
        (BackendTimeoutError, TimeoutError),
        (BackendAuthenticationError, PermissionError),
        (ObjectTooLargeError, ValueError),
        (BackendFullError, Exception),
        (BackendProtocolError, Exception),
    ],
)
def test_backend_errors(cls: type[BackendError], builtin: type[Exception]) -> None:
    error = cls("what happened; what to do", "redis://h:***@x")
    assert isinstance(error, BackendError)
    assert isinstance(error, ProxyflowError)
    assert isinstance(error, builtin)
    assert error.backend == "redis://h:***@x"
    assert str(error) == "what happened; what to do"
