"""Command line of the release tools: ``python -m proxyflow_release <command>``.

Hatch scripts of the ``release`` environment (``hatch.toml``) call these commands; see
``docs/contributing.md`` for the release process they implement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from proxyflow_release import build, checks, graph, prepare, ranges, releases, siblings, smoke
from proxyflow_release.errors import ReleaseError
from proxyflow_release.gitrepo import GitRepo
from proxyflow_release.workspace import Workspace, load_workspace

WHEELHOUSE = Path("dist/wheelhouse")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxyflow_release", description=__doc__)
    parser.add_argument("--root", type=Path, help="repository root (default: this clone)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="the packages, their versions and internal requirements")
    p = sub.add_parser("graph", help="internal dependency graph as JSON")
    p.add_argument("--dependents", action="store_true", help="map each package to its dependents")

    p = sub.add_parser("affected", help="packages whose tests a change must run (JSON list)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--base", help="compare HEAD (or --head) with its merge base with BASE")
    group.add_argument("--all", action="store_true", help="every package")
    group.add_argument("--files", nargs="*", help="changed paths, relative to the root")
    p.add_argument("--head", default="HEAD")
    p.add_argument(
        "--github-output", action="store_true", help="append packages=... to $GITHUB_OUTPUT"
    )

    for name, text in (
        ("wheelhouse", "build every wheel and sdist into one folder"),
        ("check", "build, then check every distribution and the dependency ranges"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--out", type=Path, default=WHEELHOUSE)
        p.add_argument(
            "--no-isolation", action="store_true", help="build with hatchling, not hatch build"
        )
    sub.choices["wheelhouse"].add_argument("--wheels-only", action="store_true")
    sub.choices["check"].add_argument(
        "--no-build", action="store_true", help="check what --out holds"
    )

    sub.add_parser("ranges", help="check every internal dependency range against the policy")

    p = sub.add_parser("smoke", help="install targets from the wheelhouse in fresh environments")
    p.add_argument(
        "targets", nargs="*", help="requirements such as 'proxyflow[all]' (default: all)"
    )
    p.add_argument("--wheelhouse", type=Path, default=WHEELHOUSE)

    p = sub.add_parser("prepare", help="release one package: bump, date changelog, commit, tag")
    p.add_argument("package")
    p.add_argument("part", choices=prepare.PARTS)
    p.add_argument("--date", type=dt.date.fromisoformat, help="changelog date (default: today)")
    p.add_argument("--bump-dependents", action="store_true", help="move dependents' ranges too")
    p.add_argument("--dry-run", action="store_true")

    p = sub.add_parser("tag", help="create the missing tags of released versions")
    p.add_argument("packages", nargs="*", help="default: every package")

    p = sub.add_parser("siblings", help="a package's tests against its siblings' wheels")
    p.add_argument("package")
    p.add_argument("--from", dest="source", choices=siblings.SOURCES, default="released")
    p.add_argument("--work", type=Path, help="work folder (default: dist/siblings/<package>)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: pytest arguments")
    return parser


def _list(workspace: Workspace) -> int:
    for package in workspace.packages:
        needs = sorted(
            ranges.describe(edge.requirement) + (f" [{edge.extra}]" if edge.extra else "")
            for edge in graph.internal_requirements(workspace)
            if edge.dependent is package
        )
        print(f"{package.name} {package.version}  {package.path.relative_to(workspace.root)}")
        for need in needs:
            print(f"    requires {need}")
    return 0


def _graph(workspace: Workspace, reverse: bool) -> int:
    data = {
        package.name: sorted(
            graph.dependents(workspace, [package.name]) - {package.name}
            if reverse
            else graph.direct_dependencies(workspace, package)
        )
        for package in workspace.packages
    }
    print(json.dumps(data, indent=2))
    return 0


def _affected(workspace: Workspace, args: argparse.Namespace) -> int:
    if args.all:
        selected = sorted(workspace.names)
    else:
        files = args.files
        if files is None:
            repo = GitRepo(workspace.root)
            files = repo.run("diff", "--name-only", f"{args.base}...{args.head}").splitlines()
        change = graph.changes(workspace, files)
        selected = sorted(change.affected)
        why = "workspace-wide change" if change.everything else f"changed: {sorted(change.changed)}"
        print(why, file=sys.stderr)
    print(json.dumps(selected))
    if args.github_output:
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(f"packages={json.dumps(selected)}\n")
    return 0


def _check(workspace: Workspace, args: argparse.Namespace) -> int:
    out = workspace.root / args.out
    if not args.no_build:
        build.build_all(workspace, out, isolated=not args.no_isolation)
    findings = checks.check_distributions(workspace, out, workspace.root / "dist" / "sdist-check")
    problems = [str(f) for f in findings] + [str(p) for p in ranges.check_ranges(workspace)]
    for problem in problems:
        print(f"  {problem}")
    count = len(workspace.packages)
    print(f"{count - len({f.package for f in findings})} of {count} packages' distributions pass")
    return 1 if problems else 0


def _ranges(workspace: Workspace) -> int:
    problems = ranges.check_ranges(workspace)
    for problem in problems:
        print(problem)
    edges = graph.internal_requirements(workspace)
    print(
        f"{len(edges) - len(problems)} of {len(edges)} internal dependency ranges follow the policy"
    )
    return 1 if problems else 0


def _smoke(workspace: Workspace, args: argparse.Namespace) -> int:
    targets = args.targets or smoke.default_targets(workspace)
    results = smoke.smoke(
        workspace, workspace.root / args.wheelhouse, targets, workspace.root / "dist" / "smoke"
    )
    failed = [target for target, problems in results.items() if problems]
    print(f"{len(results) - len(failed)} of {len(results)} installs from the wheelhouse pass")
    return 1 if failed else 0


def _tag(workspace: Workspace, names: Sequence[str]) -> int:
    repo = GitRepo(workspace.root)
    packages = [workspace.get(n) for n in names] if names else list(workspace.packages)
    for source in releases.missing_tags(repo, packages):
        assert source.commit is not None
        tag = source.package.tag()
        repo.create_tag(tag, source.commit, f"{source.package.name} {source.package.version}")
        print(f"tagged {source.commit[:12]} {tag}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    try:
        workspace = load_workspace(args.root)
        if args.command == "list":
            return _list(workspace)
        if args.command == "graph":
            return _graph(workspace, args.dependents)
        if args.command == "affected":
            return _affected(workspace, args)
        if args.command == "wheelhouse":
            targets = ("wheel",) if args.wheels_only else build.TARGETS
            out = workspace.root / args.out
            build.build_all(workspace, out, targets, isolated=not args.no_isolation)
            print(
                f"\nInstall from it with: pip install --find-links {args.out} proxyflow-stream ..."
            )
            return 0
        if args.command == "check":
            return _check(workspace, args)
        if args.command == "ranges":
            return _ranges(workspace)
        if args.command == "smoke":
            return _smoke(workspace, args)
        if args.command == "prepare":
            prepare.prepare(
                workspace,
                args.package,
                args.part,
                date=args.date,
                bump_dependents=args.bump_dependents,
                dry_run=args.dry_run,
            )
            return 0
        if args.command == "tag":
            return _tag(workspace, args.packages)
        if args.command == "siblings":
            name = workspace.get(args.package).name
            work = args.work or workspace.root / "dist" / "siblings" / name
            pytest_args = [a for a in args.pytest_args if a != "--"]
            return siblings.run_leg(
                workspace, name, work, source=args.source, pytest_args=pytest_args
            )
    except (ReleaseError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)  # pragma: no cover - argparse restricts commands
