"""What the trust tests share: a pickle that proves code ran, and a clean environment.

The attack tests publish hostile events and check that a consumer neither
unpickles what they point at nor takes a setting from them. They start from a
process with no trust settings of its own in the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Marker", "forget_trust_settings"]


class Marker:
    """Unpickling it creates a directory: the proof that attacker code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.path,))


def forget_trust_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the environment's trusted locations and signing key for one test."""
    monkeypatch.delenv("PROXYFLOW_TRUSTED_LOCATIONS", raising=False)
    monkeypatch.delenv("PROXYFLOW_SIGNING_KEY", raising=False)
