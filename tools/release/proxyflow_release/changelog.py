"""A package's ``CHANGELOG.md``: its ``## Unreleased`` section and its dated releases.

Every change goes under ``## Unreleased``; a release turns that heading into
``## X.Y.Z - YYYY-MM-DD`` and opens a fresh, empty ``## Unreleased`` above it.
"""

from __future__ import annotations

import datetime as dt
import re

from packaging.version import InvalidVersion, Version

from proxyflow_release.errors import ReleaseError

UNRELEASED = re.compile(r"^##\s+Unreleased\s*$", re.IGNORECASE)
RELEASED = re.compile(r"^##\s+(\S+)\s+-\s+(\d{4}-\d{2}-\d{2})\s*$")
HEADING = re.compile(r"^##\s")


def _unreleased_span(lines: list[str]) -> tuple[int, int]:
    """Line indices of the ``## Unreleased`` heading and of the next ``## `` heading."""
    start = next((i for i, line in enumerate(lines) if UNRELEASED.match(line)), None)
    if start is None:
        raise ReleaseError("the changelog has no '## Unreleased' heading")
    end = next((i for i in range(start + 1, len(lines)) if HEADING.match(lines[i])), len(lines))
    return start, end


def unreleased_notes(text: str) -> str:
    """The text under ``## Unreleased``, stripped (empty when nothing is unreleased).

    Raises:
        ReleaseError: The changelog has no ``## Unreleased`` heading.
    """
    lines = text.splitlines()
    start, end = _unreleased_span(lines)
    return "\n".join(lines[start + 1 : end]).strip()


def add_unreleased_note(text: str, note: str) -> str:
    """The changelog with ``note`` appended as the last item under ``## Unreleased``."""
    lines = text.splitlines()
    start, end = _unreleased_span(lines)
    body = "\n".join(lines[start + 1 : end]).strip()
    body = f"{body}\n{note}" if body else note
    new = [*lines[: start + 1], "", *body.splitlines(), "", *lines[end:]]
    return "\n".join(new).rstrip("\n") + "\n"


def release(text: str, version: Version, date: dt.date) -> str:
    """The changelog with its unreleased notes moved under ``## <version> - <date>``.

    Raises:
        ReleaseError: There is no ``## Unreleased`` heading, nothing under it, or the
            version already has a section.
    """
    if version in released_versions(text):
        raise ReleaseError(f"the changelog already has a section for {version}")
    notes = unreleased_notes(text)
    if not notes:
        raise ReleaseError(
            "nothing under '## Unreleased': a release needs at least one changelog entry"
        )
    lines = text.splitlines()
    start, end = _unreleased_span(lines)
    section = [f"## {version} - {date.isoformat()}", "", *notes.splitlines(), ""]
    new = [*lines[: start + 1], "", *section, *lines[end:]]
    return "\n".join(new).rstrip("\n") + "\n"


def released_versions(text: str) -> dict[Version, dt.date]:
    """Every ``## X.Y.Z - YYYY-MM-DD`` section of the changelog, by version."""
    found = {}
    for line in text.splitlines():
        match = RELEASED.match(line)
        if match is None:
            continue
        try:
            found[Version(match.group(1))] = dt.date.fromisoformat(match.group(2))
        except (InvalidVersion, ValueError):
            continue
    return found
