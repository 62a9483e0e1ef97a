"""The version policy of internal dependency ranges, checked and applied.

A package requires a sibling by a *compatible range*: at least the version whose API it
uses, below the next version allowed to break it. Under semantic versioning before 1.0
every minor release may break, after 1.0 every major one, so the range of a sibling at
``0.3.1`` is ``>=0.3,<0.4`` and of one at ``1.4.0`` is ``>=1.4,<2``. A wider range is
allowed when it is deliberate (a shim known to work with two protocol versions), but
every range must have both bounds and admit the sibling's version in the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from proxyflow_release.graph import InternalRequirement, internal_requirements
from proxyflow_release.workspace import Workspace

LOWER = frozenset({">=", ">", "==", "~=", "==="})
UPPER = frozenset({"<", "<=", "==", "~=", "==="})


@dataclass(frozen=True)
class RangeProblem:
    """An internal requirement that breaks the policy.

    Attributes:
        edge: The offending requirement.
        message: What is wrong and the range to write instead.
    """

    edge: InternalRequirement
    message: str

    def __str__(self) -> str:
        where = self.edge.dependent.name
        if self.edge.extra:
            where += f"[{self.edge.extra}]"
        return f"{where}: {describe(self.edge.requirement)}: {self.message}"


def next_breaking(version: Version) -> Version:
    """The first version allowed to break users of ``version`` (next minor before 1.0)."""
    if version.major == 0:
        return Version(f"0.{version.minor + 1}")
    return Version(f"{version.major + 1}")


def compatible_range(version: Version) -> str:
    """The specifier of the compatible range of ``version`` (``>=0.3,<0.4``)."""
    floor = f"{version.major}.{version.minor}"
    return f">={floor},<{next_breaking(version)}"


def describe(requirement: Requirement) -> str:
    """The requirement as a person writes it: lower bounds before upper ones."""
    specs = sorted(requirement.specifier, key=lambda s: (s.operator not in LOWER, str(s)))
    return with_specifier(requirement, ",".join(str(spec) for spec in specs))


def with_specifier(requirement: Requirement, specifier: str) -> str:
    """The requirement ``requirement`` with its version range replaced by ``specifier``."""
    text = requirement.name
    if requirement.extras:
        text += "[" + ",".join(sorted(requirement.extras)) + "]"
    text += specifier
    if requirement.marker is not None:
        text += f"; {requirement.marker}"
    return text


def range_problem(edge: InternalRequirement, version: Version | None = None) -> str | None:
    """What is wrong with one internal requirement against ``version``, or ``None``.

    Args:
        edge: The requirement to check.
        version: The sibling's version to admit; its version in the tree by default.
    """
    version = version or edge.dependency.version
    specifier = edge.requirement.specifier
    operators = {spec.operator for spec in specifier}
    advice = f"write {with_specifier(edge.requirement, compatible_range(version))!r}"
    if not operators & LOWER:
        return f"no lower bound; {advice}"
    if not operators & UPPER:
        return f"no upper bound, so a breaking release would be accepted; {advice}"
    if not specifier.contains(version, prereleases=True):
        return f"does not admit {edge.dependency.name} {version} of the tree; {advice}"
    return None


def check_ranges(workspace: Workspace) -> list[RangeProblem]:
    """Every internal requirement of the workspace that breaks the policy."""
    problems = []
    for edge in internal_requirements(workspace):
        message = range_problem(edge)
        if message is not None:
            problems.append(RangeProblem(edge, message))
    return problems


def rewrite_requirement(pyproject_text: str, old: Requirement, new: str) -> str:
    """Replace the quoted requirement ``old`` by ``new`` in a pyproject's text.

    Only the dependency string changes: comments, order and layout stay as they are.

    Raises:
        ValueError: No quoted string of the pyproject parses to ``old``.
    """
    replaced = False

    def swap(match: re.Match[str]) -> str:
        nonlocal replaced
        quote, value = match.group(1), match.group(2)
        try:
            parsed = Requirement(value)
        except ValueError:
            return match.group(0)
        if str(parsed) != str(old):
            return match.group(0)
        replaced = True
        # The new text may hold quotes of one kind (a marker): use the other around it.
        if quote in new:
            quote = "'" if quote == '"' else '"'
        return f"{quote}{new}{quote}"

    text = re.sub(r"""(["'])((?:(?!\1)[^\n])+)\1""", swap, pyproject_text)
    if not replaced:
        raise ValueError(f"the requirement {old} is not in the pyproject")
    return text


def admits(specifier: SpecifierSet, version: Version) -> bool:
    """Whether a range admits a version (pre-releases included)."""
    return specifier.contains(version, prereleases=True)
