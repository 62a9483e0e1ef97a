"""Check that an environment holds exactly the expected workspace packages, from wheels.

A package counts as installed from a wheel when every file of the wheel outside its
``.dist-info`` folder is installed with the same content: an editable install (a
``.pth`` file) or a different build of the same version does not pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

from proxyflow_release.checks import namespace_folders
from proxyflow_release.venvs import InstalledDistribution, Venv
from proxyflow_release.wheels import read_wheel
from proxyflow_release.workspace import Package, Workspace


def installed_packages(
    workspace: Workspace, installed: Mapping[str, InstalledDistribution]
) -> dict[str, InstalledDistribution]:
    """The installed distributions that are workspace packages, by canonical name."""
    return {
        canonicalize_name(name): dist
        for name, dist in installed.items()
        if workspace.find(name) is not None
    }


def provenance_problems(
    workspace: Workspace,
    venv: Venv,
    wheels: Mapping[str, Path],
    expected: Iterable[str],
) -> list[str]:
    """What is wrong with the workspace packages installed in ``venv``.

    Args:
        workspace: The workspace.
        venv: The environment.
        wheels: The wheel each package must come from, by canonical name.
        expected: The workspace packages that must be installed, and no others.
    """
    problems = []
    ours = installed_packages(workspace, venv.distributions())
    wanted = set(expected)
    if set(ours) != wanted:
        extra = sorted(set(ours) - wanted)
        missing = sorted(wanted - set(ours))
        problems.append(
            f"installed workspace packages differ: unexpected {extra}, missing {missing}"
        )
    for name in sorted(set(ours) & wanted):
        wheel = wheels.get(name)
        if wheel is None:
            problems.append(f"{name}: no wheel to compare with")
            continue
        contents = read_wheel(wheel)
        version = contents.metadata.get("Version")
        if ours[name].version != version:
            problems.append(f"{name}: {ours[name].version} is installed, the wheel is {version}")
        for file in contents.code_files():
            if ours[name].files.get(file) != contents.files[file]:
                problems.append(f"{name}: {file} is not the wheel's (editable or another build?)")
                break
    return problems


def import_problems(venv: Venv, packages: Iterable[Package], cwd: Path) -> list[str]:
    """Import every leaf of ``packages`` in ``venv`` from ``cwd``; check the namespaces.

    Each leaf must load from the environment, never from a source tree, and every folder
    of the namespace above the leaves must be a PEP 420 namespace (no ``__file__``).
    """
    leaves = sorted({leaf.replace("/", ".") for p in packages for leaf in p.leaves})
    namespaces = sorted(
        {n.replace("/", ".") for n in namespace_folders(leaf.replace(".", "/") for leaf in leaves)}
    )
    script = (
        "import importlib, os, sys\n"
        f"prefix = {str(venv.path.resolve())!r}\n"
        f"for name in {leaves!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    if not os.path.realpath(str(module.__file__)).startswith(prefix):\n"
        "        sys.exit(f'{name} was imported from {module.__file__}, not the environment')\n"
        f"for name in {namespaces!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    if getattr(module, '__file__', None) is not None:\n"
        "        sys.exit(f'{name} is a regular package ({module.__file__}), not a namespace')\n"
    )
    result = venv.run("-c", script, cwd=cwd)
    if result.returncode != 0:
        return [
            f"importing {', '.join(leaves)}: {(result.stderr or result.stdout).strip()[-2000:]}"
        ]
    return []
