"""Griffe extension: render the reST leftovers of proxyflow docstrings as Markdown.

The docstrings are Google style with Markdown, but many use Sphinx roles
(``:class:`~proxyflow.store.Store```) and doctest lines (``>>> ...``) in
sections that are not ``Examples:``. mkdocstrings would show the roles as raw
text and read ``x["a"]["b"]`` in a doctest as a Markdown link. This extension,
loaded by ``mkdocs.yml`` (``extensions:`` of the Python handler), rewrites each
docstring before it is parsed:

* a role becomes an *optional* cross-reference: a link when the target is
  documented on the site, plain code otherwise (never a build warning);
* a run of doctest lines becomes a ``pycon`` code block;
* a reST simple table (``=== ===`` borders) becomes a ``text`` code block;
* a reST ``::`` at the end of a paragraph becomes ``:``.

It changes nothing in the packages themselves, only what the site renders.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

__all__ = ["DocstringCompat"]

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(?P<target>[^`]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")
_DOCTEST = re.compile(r"^(?P<indent>\s*)>>> ")
_TABLE_BORDER = re.compile(r"^(?P<indent>\s*)=+(?:\s+=+)+\s*$")


def _resolve(scope: griffe.Object, target: str) -> str | None:
    """Return the full path of ``target`` seen from ``scope``, or ``None``."""
    if target.startswith("proxyflow."):
        return target
    head, _, rest = target.partition(".")
    current: griffe.Object | None = scope
    while current is not None:
        try:
            full = current.resolve(head)
        except (griffe.NameResolutionError, AttributeError, KeyError):
            current = current.parent
            continue
        return f"{full}.{rest}" if rest else full
    return None


def _role_replacer(scope: griffe.Object) -> Any:
    def replace(match: re.Match[str]) -> str:
        target = match.group("target").strip()
        short = target.startswith("~")
        target = target.lstrip("~.!")
        title = target.rsplit(".", 1)[-1] if short else target
        code = f"<code>{html.escape(title)}</code>"
        full = _resolve(scope, target)
        if full is None:
            return code
        return f'<autoref identifier="{html.escape(full)}" optional>{code}</autoref>'

    return replace


def _fence_doctests(lines: list[str]) -> list[str]:
    """Wrap each run of doctest lines (``>>>`` up to a blank line) in a pycon fence."""
    out: list[str] = []
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _DOCTEST.match(line)
        if match is None:
            out.append(line)
            index += 1
            continue
        indent = match.group("indent")
        out.append(f"{indent}```pycon")
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append(f"{indent}```")
    return out


def _fence_tables(lines: list[str]) -> list[str]:
    """Wrap each reST simple table (three ``=== ===`` border lines) in a text fence."""
    out: list[str] = []
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            in_fence = not in_fence
        border = None if in_fence else _TABLE_BORDER.match(line)
        if border is None:
            out.append(line)
            index += 1
            continue
        end = index + 1
        borders = 1
        while end < len(lines) and borders < 3:
            borders += bool(_TABLE_BORDER.match(lines[end]))
            end += 1
        indent = border.group("indent")
        out.extend([f"{indent}```text", *lines[index:end], f"{indent}```"])
        index = end
    return out


def _literal_markers(lines: list[str]) -> list[str]:
    """Turn a reST ``Title::`` (outside code fences) into ``Title:``."""
    out: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        stripped = line.rstrip()
        literal = stripped.endswith("::") and not stripped.lstrip().startswith(":")
        out.append(stripped[:-1] if literal and not in_fence else line)
    return out


class DocstringCompat(griffe.Extension):
    """Rewrite Sphinx roles, bare doctests and ``::`` markers in docstrings."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the docstring of ``obj`` once the object tree is complete."""
        docstring = obj.docstring
        if docstring is None:
            return
        scope = obj if obj.is_module or obj.is_class else (obj.parent or obj)
        replace = _role_replacer(scope)
        lines: list[str] = []
        in_fence = False
        for line in docstring.value.splitlines():
            if _FENCE.match(line):
                in_fence = not in_fence
            lines.append(line if in_fence else _ROLE.sub(replace, line))
        lines = _fence_tables(_fence_doctests(lines))
        docstring.value = "\n".join(_literal_markers(lines))
