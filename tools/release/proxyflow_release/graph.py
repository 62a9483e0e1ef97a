"""The internal dependency graph, and which packages a set of changed files affects.

Two kinds of edges link the distributions: *runtime* edges (``dependencies`` and
``optional-dependencies`` naming a sibling) and *test* edges (the siblings a package's
``hatch-test`` environment installs, such as ``proxyflow-testing``). A package's tests
must run again when the package or anything it reaches through either kind changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from proxyflow_release.workspace import Package, Workspace

# Paths whose changes no package's own tests read: the jobs covering them (docs,
# integration suite, benchmark smoke test) run on every change anyway. Any other path
# outside packages/ (hatch.toml, ruff.toml, pytest.ini, .github/, .ci/, tools/, ...)
# is workspace-wide and re-runs every package.
NO_PACKAGE = ("README.md", "LICENSE", "mkdocs.yml")
NO_PACKAGE_DIRS = ("docs/", "tests-integration/", "benchmarks/")


@dataclass(frozen=True)
class InternalRequirement:
    """A requirement of one workspace package on another.

    Attributes:
        dependent: The package that has the requirement.
        dependency: The sibling it names.
        requirement: The requirement as written.
        extra: The extra that adds it, ``None`` for a base dependency.
    """

    dependent: Package
    dependency: Package
    requirement: Requirement
    extra: str | None


@dataclass(frozen=True)
class ChangeSet:
    """The packages a set of changed paths affects.

    Attributes:
        changed: Packages with a changed file of their own.
        affected: ``changed`` plus every package that depends on one of them (runtime or
            test edge, transitively): the packages whose tests must run.
        everything: A workspace-wide file changed, so every package is affected.
    """

    changed: frozenset[str]
    affected: frozenset[str]
    everything: bool


def internal_requirements(workspace: Workspace) -> list[InternalRequirement]:
    """Every requirement of a workspace package on a sibling, in package order."""
    found = []
    for package in workspace.packages:
        for extra, requirement in package.all_requirements():
            dependency = workspace.find(requirement.name)
            if dependency is not None:
                found.append(InternalRequirement(package, dependency, requirement, extra))
    return found


def runtime_closure(workspace: Workspace, name: str, extras: Iterable[str] = ()) -> frozenset[str]:
    """The package and every sibling a ``pip install name[extras]`` brings in."""
    result: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(canonicalize_name(name), frozenset(extras))]
    while pending:
        current, wanted = pending.pop()
        package = workspace.find(current)
        if package is None or (current, wanted) in seen:
            continue
        seen.add((current, wanted))
        result.add(current)
        for extra, requirement in package.all_requirements():
            if (extra is None or extra in wanted) and workspace.find(requirement.name):
                pending.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return frozenset(result)


def direct_dependencies(workspace: Workspace, package: Package) -> frozenset[str]:
    """Siblings a package's code or tests use directly: runtime, extras and test edges."""
    names: set[str] = {
        canonicalize_name(requirement.name)
        for _, requirement in package.all_requirements()
        if workspace.find(requirement.name) is not None
    }
    for member in package.test_members:
        sibling = workspace.at_path(member)
        if sibling is not None:
            names.add(sibling.name)
    names.discard(package.name)
    return frozenset(names)


def closure_for_tests(workspace: Workspace, name: str) -> frozenset[str]:
    """The package and every sibling its tests need, through either kind of edge."""
    result: set[str] = set()
    pending: list[str] = [canonicalize_name(name)]
    while pending:
        current = pending.pop()
        if current in result:
            continue
        result.add(current)
        pending.extend(direct_dependencies(workspace, workspace.get(current)))
    return frozenset(result)


def dependents(workspace: Workspace, names: Iterable[str]) -> frozenset[str]:
    """``names`` plus every package whose test closure contains one of them."""
    wanted = {canonicalize_name(name) for name in names}
    return frozenset(
        package.name
        for package in workspace.packages
        if wanted & closure_for_tests(workspace, package.name)
    )


def topological_order(workspace: Workspace) -> list[str]:
    """Package names with every runtime dependency before its dependents."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"dependency cycle through {name}")
        visiting.add(name)
        for requirement in internal_requirements(workspace):
            if requirement.dependent.name == name:
                visit(requirement.dependency.name)
        visiting.discard(name)
        order.append(name)

    for package in workspace.packages:
        visit(package.name)
    return order


def package_of_path(workspace: Workspace, path: str) -> str | None:
    """The package owning a repository-relative path, or ``None`` if it is not in one."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 2 and parts[0] == "packages":
        package = workspace.at_path(workspace.root / "packages" / parts[1])
        return package.name if package else None
    return None


def changes(workspace: Workspace, paths: Iterable[str]) -> ChangeSet:
    """Map changed repository-relative paths to the packages whose tests must run."""
    changed: set[str] = set()
    everything = False
    for raw in paths:
        path = raw.strip()
        if not path:
            continue
        owner = package_of_path(workspace, path)
        if owner is not None:
            changed.add(owner)
        elif path in NO_PACKAGE or path.startswith(NO_PACKAGE_DIRS):
            continue
        else:
            # A workspace-wide file, a new or removed package folder, or a path the
            # mapping does not know: run everything rather than miss a failure.
            everything = True
    if everything:
        return ChangeSet(frozenset(changed), frozenset(workspace.names), True)
    return ChangeSet(frozenset(changed), dependents(workspace, changed), False)
