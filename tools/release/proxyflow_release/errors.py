"""The one error type of the release tools: a refusal with a message that says what to do."""

from __future__ import annotations


class ReleaseError(Exception):
    """An operation was refused or failed; the message says why and what to do next."""
