"""Prepare the release of one package: bump, date the changelog, commit and tag.

``prepare(workspace, "proxyflow-stream", "minor")`` refuses a dirty work tree, an empty
``## Unreleased`` section, an existing tag and a bump that a dependent's range would not
admit (unless asked to move those ranges too). Then it bumps the version with Hatch's
version command (the file named by ``[tool.hatch.version] path``), turns ``## Unreleased``
into ``## X.Y.Z - YYYY-MM-DD`` under a fresh empty ``## Unreleased``, commits both files
and tags the commit ``<name>-vX.Y.Z``. Nothing is pushed.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from packaging.version import Version

from proxyflow_release import changelog
from proxyflow_release.errors import ReleaseError
from proxyflow_release.gitrepo import GitRepo
from proxyflow_release.graph import InternalRequirement, internal_requirements
from proxyflow_release.ranges import (
    admits,
    compatible_range,
    describe,
    rewrite_requirement,
    with_specifier,
)
from proxyflow_release.workspace import Package, Workspace, read_version

PARTS = ("major", "minor", "patch")


@dataclass(frozen=True)
class ReleasePlan:
    """What a release does.

    Attributes:
        package: The package, before the release.
        new_version: The version it gets.
        date: The date of its changelog section.
        tag: The tag the release commit gets.
        excluded: Dependents' requirements whose range does not admit the new version.
    """

    package: Package
    new_version: Version
    date: dt.date
    tag: str
    excluded: tuple[InternalRequirement, ...]

    @property
    def message(self) -> str:
        """The release commit's message."""
        return f"{self.package.short_name}: release {self.package.name} {self.new_version}"


def bumped(version: Version, part: str) -> Version:
    """``version`` with ``part`` (major, minor or patch) raised and the lower parts reset."""
    major, minor, patch = (*version.release, 0, 0)[:3]
    if part == "major":
        return Version(f"{major + 1}.0.0")
    if part == "minor":
        return Version(f"{major}.{minor + 1}.0")
    if part == "patch":
        return Version(f"{major}.{minor}.{patch + 1}")
    raise ReleaseError(f"unknown version part {part!r}; use one of {', '.join(PARTS)}")


def plan_release(
    workspace: Workspace, name: str, part: str, date: dt.date | None = None
) -> ReleasePlan:
    """Check that ``name`` can be released with a ``part`` bump, and say how.

    Raises:
        ReleaseError: The release is refused; the message says why and what to do.
    """
    repo = GitRepo(workspace.root)
    package = workspace.get(name)
    new_version = bumped(package.version, part)
    dirty = repo.dirty_paths()
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise ReleaseError(f"the work tree has uncommitted changes ({shown}); commit or stash them")
    text = package.changelog.read_text(encoding="utf-8")
    if not changelog.unreleased_notes(text):
        raise ReleaseError(
            f"{package.changelog.relative_to(workspace.root)} has nothing under "
            "'## Unreleased': there is nothing to release"
        )
    if new_version in changelog.released_versions(text):
        raise ReleaseError(f"the changelog of {package.name} already has {new_version}")
    tag = package.tag(new_version)
    if repo.tag_commit(tag) is not None:
        raise ReleaseError(f"the tag {tag} already exists")
    excluded = tuple(
        edge
        for edge in internal_requirements(workspace)
        if edge.dependency.name == package.name
        and not admits(edge.requirement.specifier, new_version)
    )
    return ReleasePlan(package, new_version, date or dt.date.today(), tag, excluded)


def prepare(
    workspace: Workspace,
    name: str,
    part: str,
    *,
    date: dt.date | None = None,
    bump_dependents: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> ReleasePlan:
    """Release ``name`` with a ``part`` bump: version, changelog, commit and tag.

    Args:
        workspace: The workspace, loaded from a clean work tree.
        name: The package (distribution, folder or short name).
        part: ``major``, ``minor`` or ``patch``.
        date: The date of the changelog section; today by default.
        bump_dependents: Move the ranges of dependents that would not admit the new
            version to its compatible range, in a second commit with a changelog line.
        dry_run: Only check and print the plan.
        log: Where progress lines go.

    Raises:
        ReleaseError: The release is refused or a step failed (files are restored).
    """
    plan = plan_release(workspace, name, part, date)
    package = plan.package
    for edge in plan.excluded:
        log(
            f"{edge.dependent.name} requires {describe(edge.requirement)}, which does not admit "
            f"{package.name} {plan.new_version}"
        )
    if plan.excluded and not bump_dependents:
        raise ReleaseError(
            "dependents' ranges would exclude the new version: release a compatible "
            "version, edit those ranges first, or pass --bump-dependents to set them to "
            f"{compatible_range(plan.new_version)} in a follow-up commit"
        )
    log(f"{package.name}: {package.version} -> {plan.new_version}, tag {plan.tag}")
    if dry_run:
        return plan
    repo = GitRepo(workspace.root)
    touched = [package.version_file, package.changelog]
    try:
        _bump_version(package, part, plan.new_version)
        text = package.changelog.read_text(encoding="utf-8")
        package.changelog.write_text(
            changelog.release(text, plan.new_version, plan.date), encoding="utf-8"
        )
        commit = repo.commit(touched, plan.message)
    except BaseException:
        repo.run("checkout", "--", *(str(p) for p in touched), check=False)
        raise
    repo.create_tag(plan.tag, commit, f"{package.name} {plan.new_version}")
    log(f"committed {commit[:12]} '{plan.message}' and tagged {plan.tag}")
    if plan.excluded:
        _bump_dependents(repo, plan, log)
    return plan


def _bump_version(package: Package, part: str, expected: Version) -> None:
    """Run Hatch's version command (hatchling's, without an environment) in the package."""
    result = subprocess.run(
        [sys.executable, "-m", "hatchling", "version", part],
        cwd=package.path,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ReleaseError(f"hatchling version {part} failed: {result.stderr.strip()}")
    found = read_version(package.version_file)
    if found != expected:
        raise ReleaseError(f"the version became {found}, expected {expected}")


def _bump_dependents(repo: GitRepo, plan: ReleasePlan, log: Callable[[str], None]) -> None:
    new_range = compatible_range(plan.new_version)
    by_dependent: dict[str, list[InternalRequirement]] = {}
    for edge in plan.excluded:
        by_dependent.setdefault(edge.dependent.name, []).append(edge)
    touched = []
    for edges in by_dependent.values():
        dependent = edges[0].dependent
        text = dependent.pyproject.read_text(encoding="utf-8")
        notes = dependent.changelog.read_text(encoding="utf-8")
        done: set[str] = set()
        for edge in edges:
            if str(edge.requirement) in done:
                continue  # written twice (base and extra): both were rewritten at once
            done.add(str(edge.requirement))
            new = with_specifier(edge.requirement, new_range)
            text = rewrite_requirement(text, edge.requirement, new)
            notes = changelog.add_unreleased_note(
                notes, f"- Requires `{new}` (was `{describe(edge.requirement)}`)."
            )
            log(f"{dependent.name}: {describe(edge.requirement)} -> {new}")
        dependent.pyproject.write_text(text, encoding="utf-8")
        dependent.changelog.write_text(notes, encoding="utf-8")
        touched += [dependent.pyproject, dependent.changelog]
    names = ", ".join(edges[0].dependent.short_name for edges in by_dependent.values())
    message = f"{names}: require {plan.package.name} {new_range}"
    commit = repo.commit(touched, message)
    log(f"committed {commit[:12]} '{message}'")
