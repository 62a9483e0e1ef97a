"""The released-siblings leg: one package's tests against its siblings' wheels.

Everything the package's tests need from the workspace (its requirements, its extras'
and the siblings of its ``hatch-test`` environment, transitively) is installed from
wheels, never editable: by default each sibling is built from its last release (its tag
or release commit, see ``releases.py``), so a package that relies on an unreleased
change of a sibling fails here; a sibling never released yet is built from the work
tree, and the log says so. The package under test is built from the work tree. Then its
own tests run with the environment's pytest.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from proxyflow_release.build import build_source
from proxyflow_release.errors import ReleaseError
from proxyflow_release.gitrepo import GitRepo
from proxyflow_release.graph import closure_for_tests
from proxyflow_release.provenance import import_problems, provenance_problems
from proxyflow_release.releases import find_release
from proxyflow_release.venvs import Venv, clean_env, create_venv
from proxyflow_release.workspace import Package, Workspace

SOURCES = ("released", "tree")


@dataclass(frozen=True)
class SiblingWheel:
    """The wheel a sibling is tested from.

    Attributes:
        package: The sibling.
        wheel: Its wheel.
        origin: Where its source came from (a release, or the work tree and why).
    """

    package: Package
    wheel: Path
    origin: str


def build_siblings(
    workspace: Workspace, package: Package, work: Path, source: str
) -> list[SiblingWheel]:
    """Build the wheels of the package (from the tree) and of every sibling its tests need."""
    if source not in SOURCES:
        raise ReleaseError(f"unknown sibling source {source!r}; use one of {SOURCES}")
    repo = GitRepo(workspace.root)
    wheels_dir = work / "wheels"
    for folder in (wheels_dir, work / "src"):
        if folder.exists():
            shutil.rmtree(folder)
    built = []
    for name in sorted(closure_for_tests(workspace, package.name)):
        sibling = workspace.get(name)
        folder, origin = sibling.path, "work tree (package under test)"
        if sibling is not package:
            origin = "work tree"
            if source == "released":
                release = find_release(repo, sibling)
                if release.commit is not None:
                    folder = repo.export(release.commit, sibling.path, work / "src" / name)
                    origin = release.how
                else:
                    origin = f"work tree: {release.how}"
        files = [f for f in build_source(folder, wheels_dir, ("wheel",)) if f.suffix == ".whl"]
        if len(files) != 1:
            raise ReleaseError(f"building {name} from {folder} gave {[f.name for f in files]}")
        built.append(SiblingWheel(sibling, files[0], origin))
    return built


def run_leg(
    workspace: Workspace,
    name: str,
    work: Path,
    *,
    source: str = "released",
    pytest_args: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> int:
    """Install a package and its siblings from wheels in a fresh environment, run its tests.

    Returns:
        pytest's exit status.

    Raises:
        ReleaseError: A build or the install failed, or the environment does not hold
            exactly the wheels built for it.
    """
    package = workspace.get(name)
    built = build_siblings(workspace, package, work, source)
    for item in built:
        log(f"{item.package.name} {item.wheel.name}: {item.origin}")
    venv = create_venv(work / "venv")
    requirements = ["pytest>=8", *package.test_requirements]
    venv.pip_install(*(str(item.wheel) for item in built), *requirements)
    wheels = {item.package.name: item.wheel for item in built}
    problems = provenance_problems(workspace, venv, wheels, expected=wheels)
    if problems:
        raise ReleaseError(
            "the test environment is not made of the built wheels:\n" + "\n".join(problems)
        )
    failed_imports = import_problems(venv, [item.package for item in built], cwd=package.path)
    if failed_imports:
        # The package under test (or a sibling) does not even import against these
        # wheels: a failure of the leg, like a failing test.
        for problem in failed_imports:
            log(problem)
        return 1
    log(f"running {package.name}'s tests against the installed wheels")
    return _pytest(venv, package, pytest_args)


def _pytest(venv: Venv, package: Package, args: Sequence[str]) -> int:
    # From the package folder, so that its [tool.pytest.ini_options] apply; the sources
    # stay importable only through the environment (they live under src/).
    command = [str(venv.python), "-m", "pytest", "tests", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=package.path, env=clean_env(), check=False).returncode
