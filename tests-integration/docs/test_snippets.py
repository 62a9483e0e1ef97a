"""Run the runnable code snippets of the documentation (docs/**/*.md).

A snippet is opted in by an HTML comment on the line right before its fence
(the markers are described in docs/contributing.md):

    <!-- test: run -->            next ```python fence: run alone in a fresh interpreter
    <!-- test: file NAME -->      next ```python fence: written to NAME in the page's directory
    <!-- test: spawn A B ... -->  start files A, B, ... of the page as processes, in order
    <!-- test: output [NAME] --> next ```text fence: expected stdout of the last run
                                  snippet, or of process NAME of the last spawn

``run`` and ``spawn`` accept the flag ``redis``: the snippet then needs a
Redis server, and ``redis://localhost:6379`` in its code is replaced by the
server of the ``redis_url`` fixture (proxyflow-testing's pytest plugin).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROCESS_TIMEOUT = 60.0
DOC_REDIS_URL = "redis://localhost:6379"

_MARKER = re.compile(r"^<!--\s*test:\s*(?P<verb>\w+)(?P<args>[^>]*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<ticks>`{3,})(?P<lang>[\w+-]*)")


class MarkerError(ValueError):
    """A ``<!-- test: ... -->`` marker is malformed or not followed by the right fence."""


@dataclass
class Process:
    """One Python file to run and what it must print (``None``: anything)."""

    name: str
    expected: str | None = None


@dataclass
class Case:
    """One test: a ``run`` snippet or a ``spawn`` of a page's files."""

    page: str
    line: int
    kind: str  # "run" or "spawn"
    needs_redis: bool
    processes: list[Process]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _read_fence(lines: list[str], start: int, lang: str, where: str) -> tuple[str, int]:
    """Return the body of the fence opening at ``lines[start]`` and the index after it."""
    if start >= len(lines):
        raise MarkerError(f"{where}: marker at the end of the file")
    opening = _FENCE.match(lines[start])
    if opening is None or opening.group("lang") != lang:
        raise MarkerError(f"{where}: marker must be followed by a ```{lang} fence")
    ticks = opening.group("ticks")
    body: list[str] = []
    for index in range(start + 1, len(lines)):
        if lines[index].strip() == ticks:
            return "\n".join(body) + "\n", index + 1
        body.append(lines[index])
    raise MarkerError(f"{where}: unterminated ```{lang} fence")


def parse_page(page: str, text: str) -> list[Case]:
    """Return the test cases of one Markdown page named ``page``."""
    lines = text.splitlines()
    cases: list[Case] = []
    files: dict[str, str] = {}
    index = 0
    while index < len(lines):
        match = _MARKER.match(lines[index].strip())
        if match is None:
            index += 1
            continue
        where = f"{page}:{index + 1}"
        verb = match.group("verb")
        args = match.group("args").split()
        needs_redis = "redis" in args
        names = [arg for arg in args if arg != "redis"]
        if verb == "run":
            code, index = _read_fence(lines, index + 1, "python", where)
            name = "snippet.py"
            cases.append(
                Case(page, int(where.rsplit(":", 1)[1]), "run", needs_redis, [Process(name)])
            )
            cases[-1].files[name] = code
        elif verb == "file":
            if len(names) != 1:
                raise MarkerError(f"{where}: 'file' takes exactly one file name")
            files[names[0]], index = _read_fence(lines, index + 1, "python", where)
        elif verb == "spawn":
            if not names:
                raise MarkerError(f"{where}: 'spawn' needs at least one file name")
            unknown = [name for name in names if name not in files]
            if unknown:
                raise MarkerError(f"{where}: spawn of files not defined above: {unknown}")
            case = Case(page, index + 1, "spawn", needs_redis, [Process(name) for name in names])
            case.files = dict(files)
            cases.append(case)
            index += 1
        elif verb == "output":
            expected, index = _read_fence(lines, index + 1, "text", where)
            if not cases:
                raise MarkerError(f"{where}: 'output' before any run or spawn marker")
            target = cases[-1]
            wanted = names[0] if names else None
            chosen = [p for p in target.processes if wanted is None or p.name == wanted]
            if target.kind == "spawn" and wanted is None:
                raise MarkerError(f"{where}: 'output' after a spawn must name the process")
            if len(chosen) != 1:
                raise MarkerError(f"{where}: 'output' names no process of {target.id}")
            chosen[0].expected = expected
        else:
            raise MarkerError(f"{where}: unknown marker verb {verb!r}")
    return cases


def collect() -> list[Case]:
    """Return every test case of every page under docs/."""
    cases: list[Case] = []
    for path in sorted(DOCS.rglob("*.md")):
        cases.extend(parse_page(path.relative_to(DOCS).as_posix(), path.read_text("utf-8")))
    return cases


CASES = collect()


def _normalise(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


_DOC_TCP_PORT = re.compile(r"tcp://127\.0\.0\.1:(\d+)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _use_free_ports(files: dict[str, str]) -> dict[str, str]:
    """Give each fixed loopback port of the docs a free one, the same in every file.

    The docs show fixed ports (easier to read and copy); tests must not depend
    on those being free.
    """
    ports = {m.group(1) for code in files.values() for m in _DOC_TCP_PORT.finditer(code)}
    mapping = {port: str(_free_port()) for port in ports}
    return {
        name: _DOC_TCP_PORT.sub(lambda m: f"tcp://127.0.0.1:{mapping[m.group(1)]}", code)
        for name, code in files.items()
    }


def _use_server(code: str, redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return code.replace(DOC_REDIS_URL, f"{parts.scheme}://{parts.netloc}")


def test_snippets_were_found() -> None:
    assert len(CASES) >= 10, [case.id for case in CASES]
    assert any(case.kind == "spawn" for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_snippet(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    redis_url = request.getfixturevalue("redis_url") if case.needs_redis else None
    for name, code in _use_free_ports(case.files).items():
        text = code if redis_url is None else _use_server(code, redis_url)
        (tmp_path / name).write_text(text, encoding="utf-8")

    running = [
        (
            process,
            subprocess.Popen(
                [sys.executable, process.name],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for process in case.processes
    ]
    failures: list[str] = []
    try:
        for process, popen in running:
            try:
                stdout, stderr = popen.communicate(timeout=PROCESS_TIMEOUT)
            except subprocess.TimeoutExpired:
                popen.kill()
                stdout, stderr = popen.communicate(timeout=10)
                failures.append(f"{process.name} timed out after {PROCESS_TIMEOUT}s\n{stderr}")
                continue
            if popen.returncode != 0:
                failures.append(f"{process.name} exited with {popen.returncode}\n{stderr}")
            elif process.expected is not None and _normalise(stdout) != _normalise(
                process.expected
            ):
                failures.append(f"{process.name} printed:\n{stdout}\nexpected:\n{process.expected}")
    finally:
        for _, popen in running:
            if popen.poll() is None:
                popen.kill()
                popen.communicate(timeout=10)
    assert not failures, "\n\n".join(failures)


def test_parser_attaches_output_and_files() -> None:
    text = (
        "<!-- test: run -->\n```python\nprint(1)\n```\n"
        "<!-- test: output -->\n```text\n1\n```\n"
        "<!-- test: file a.py -->\n```python\nprint(2)\n```\n"
        "<!-- test: spawn a.py redis -->\n"
        "<!-- test: output a.py -->\n```text\n2\n```\n"
    )
    run, spawn = parse_page("p.md", text)
    assert (run.kind, run.processes[0].expected, run.files) == (
        "run",
        "1\n",
        {"snippet.py": "print(1)\n"},
    )
    assert (spawn.kind, spawn.needs_redis, spawn.files) == ("spawn", True, {"a.py": "print(2)\n"})
    assert spawn.processes[0].expected == "2\n"


@pytest.mark.parametrize(
    "text",
    [
        "<!-- test: run -->\n```text\nnot python\n```\n",
        "<!-- test: run -->\n```python\nprint(1)\n",
        "<!-- test: spawn missing.py -->\n",
        "<!-- test: output -->\n```text\n1\n```\n",
        "<!-- test: launch -->\n",
    ],
)
def test_malformed_markers_are_rejected(text: str) -> None:
    with pytest.raises(MarkerError):
        parse_page("p.md", text)
