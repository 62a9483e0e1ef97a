from __future__ import annotations

import datetime as dt

import pytest
from packaging.version import Version
from proxyflow_release import changelog
from proxyflow_release.errors import ReleaseError

TEXT = """# Changelog of demo

Intro.

## Unreleased

- New thing.

- Fixed thing.

## 0.1.0 - 2026-01-02

- First release.
"""


def test_release_dates_the_section_and_opens_an_empty_unreleased() -> None:
    released = changelog.release(TEXT, Version("0.2.0"), dt.date(2026, 11, 30))
    assert released == TEXT.replace("## Unreleased\n", "## Unreleased\n\n## 0.2.0 - 2026-11-30\n")
    assert changelog.unreleased_notes(released) == ""
    assert changelog.released_versions(released) == {
        Version("0.2.0"): dt.date(2026, 11, 30),
        Version("0.1.0"): dt.date(2026, 1, 2),
    }


def test_release_refuses_an_empty_unreleased_section() -> None:
    once = changelog.release(TEXT, Version("0.2.0"), dt.date(2026, 11, 30))
    with pytest.raises(ReleaseError, match="nothing under '## Unreleased'"):
        changelog.release(once, Version("0.3.0"), dt.date(2026, 12, 1))


def test_release_refuses_a_version_already_there() -> None:
    with pytest.raises(ReleaseError, match=r"already has a section for 0\.1\.0"):
        changelog.release(TEXT, Version("0.1.0"), dt.date(2026, 11, 30))


def test_a_changelog_without_unreleased_heading_is_refused() -> None:
    with pytest.raises(ReleaseError, match="no '## Unreleased' heading"):
        changelog.unreleased_notes("# Changelog\n\n## 0.1.0 - 2026-01-02\n")


def test_undated_headings_are_not_releases() -> None:
    assert changelog.released_versions("## Unreleased\n\n## 0.1.0\n\n- x\n") == {}


def test_add_unreleased_note_appends_to_the_section() -> None:
    added = changelog.add_unreleased_note(TEXT, "- Requires `x>=1`.")
    assert "- Fixed thing.\n- Requires `x>=1`.\n\n## 0.1.0 - 2026-01-02" in added
    empty = changelog.add_unreleased_note("# C\n\n## Unreleased\n\n## 0.1.0 - 2026-01-02\n", "- y")
    assert empty == "# C\n\n## Unreleased\n\n- y\n\n## 0.1.0 - 2026-01-02\n"
