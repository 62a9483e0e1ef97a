from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own for each test, so lists never leak between tests."""
    return f"proxyflow-test:{uuid.uuid4().hex}:"
