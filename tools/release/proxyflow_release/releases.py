"""Where the released source of a package is: its tag, or else its release commit.

Tags do not always travel with a clone, so a release is also recognisable without one:
the release commit is the newest one that added the dated changelog heading
``## X.Y.Z - YYYY-MM-DD`` of the version in the tree, provided the version file held
``X.Y.Z`` at that commit. A package whose current version has neither was never released.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxyflow_release.gitrepo import GitRepo, release_pattern
from proxyflow_release.workspace import VERSION_PATTERN, Package


@dataclass(frozen=True)
class ReleaseSource:
    """Where the released version of a package lives.

    Attributes:
        package: The package, at the version of the work tree.
        commit: The release commit, or ``None`` when that version was never released.
        how: How the commit was found, or why there is none.
    """

    package: Package
    commit: str | None
    how: str


def find_release(repo: GitRepo, package: Package) -> ReleaseSource:
    """Find the commit that released the package's current version."""
    version = str(package.version)
    tag = package.tag()
    tagged = repo.tag_commit(tag)
    if tagged is not None:
        return ReleaseSource(package, tagged, f"tag {tag}")
    commit = repo.last_commit_adding(release_pattern(version), package.changelog)
    if commit is not None:
        text = repo.show(commit, package.version_file) or ""
        match = VERSION_PATTERN.search(text)
        if match is not None and match.group(1) == version:
            return ReleaseSource(package, commit, f"release commit {commit[:12]} (no tag {tag})")
    why = f"{package.name} {version} was never released (no tag {tag}, no dated changelog section)"
    if repo.is_shallow():
        why += "; this clone is shallow, fetch the full history to find older releases"
    return ReleaseSource(package, None, why)


def missing_tags(repo: GitRepo, packages: list[Package]) -> list[ReleaseSource]:
    """Released versions whose tag is missing from this clone (found by release commit)."""
    missing = []
    for package in packages:
        source = find_release(repo, package)
        if source.commit is not None and repo.tag_commit(package.tag()) is None:
            missing.append(source)
    return missing
