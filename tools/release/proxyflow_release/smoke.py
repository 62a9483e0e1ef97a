"""Install packages from the wheelhouse in fresh environments, as a user would.

Each target (``proxyflow-shim-zmq``, ``proxyflow[all]``) gets a new virtual environment
and the documented command, ``pip install --find-links <wheelhouse> <target>``. Then:
the workspace packages installed are exactly the target and what it requires, each is
the wheelhouse's wheel, every leaf imports from the environment, the namespaces stay
PEP 420 namespaces, each console script answers ``--help``, and ``pip check`` passes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from packaging.requirements import Requirement

from proxyflow_release.build import artifacts_in
from proxyflow_release.errors import ReleaseError
from proxyflow_release.graph import runtime_closure
from proxyflow_release.provenance import import_problems, provenance_problems
from proxyflow_release.venvs import create_venv
from proxyflow_release.workspace import Workspace


def default_targets(workspace: Workspace) -> list[str]:
    """Every package alone, and every package with each of its extras."""
    targets = []
    for package in workspace.packages:
        targets.append(package.name)
        targets += [f"{package.name}[{extra}]" for extra in package.extras]
    return targets


def smoke_install(
    workspace: Workspace, wheelhouse: Path, target: str, venv_path: Path
) -> list[str]:
    """Install ``target`` from ``wheelhouse`` in a fresh environment; return the problems."""
    requirement = Requirement(target)
    package = workspace.get(requirement.name)
    expected = runtime_closure(workspace, package.name, requirement.extras)
    wheels = {}
    for name in expected:
        wheel = artifacts_in(workspace.get(name), wheelhouse).wheel
        if wheel is None:
            raise ReleaseError(
                f"{wheelhouse} has no wheel of {name}: run hatch run release:wheelhouse"
            )
        wheels[name] = wheel
    venv = create_venv(venv_path)
    venv.pip_install("--find-links", str(wheelhouse.resolve()), target)
    problems = provenance_problems(workspace, venv, wheels, expected)
    installed = [workspace.get(name) for name in sorted(expected)]
    problems += import_problems(venv, installed, cwd=venv_path)
    for dependency in installed:
        for script in dependency.entry_points.get("console_scripts", {}):
            result = venv_path.joinpath("bin", script)
            run = venv.run(
                "-c",
                "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
                str(result),
                "--help",
            )
            if run.returncode != 0:
                problems.append(
                    f"{script} --help exited with {run.returncode}: {run.stderr.strip()[-500:]}"
                )
    check = venv.run("-m", "pip", "check")
    if check.returncode != 0:
        problems.append(f"pip check: {check.stdout.strip()}")
    return problems


def smoke(
    workspace: Workspace,
    wheelhouse: Path,
    targets: list[str],
    work: Path,
    log: Callable[[str], None] = print,
) -> dict[str, list[str]]:
    """Run [`smoke_install`][] for every target; returns the problems by target."""
    results = {}
    for target in targets:
        folder = work / target.replace("[", "-").replace("]", "").replace(",", "-")
        try:
            problems = smoke_install(workspace, wheelhouse, target, folder)
        except ReleaseError as exc:
            problems = [str(exc)]
        log(f"{'FAIL' if problems else 'ok  '} pip install --find-links {wheelhouse} {target!r}")
        for problem in problems:
            log(f"     {problem}")
        results[target] = problems
    return results
