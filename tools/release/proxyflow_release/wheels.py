"""Read what a wheel holds: its files and their hashes, metadata and entry points."""

from __future__ import annotations

import configparser
import hashlib
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path


@dataclass(frozen=True)
class WheelContents:
    """The contents of one wheel.

    Attributes:
        path: The wheel file.
        files: Every file's SHA-256 hex digest, by path inside the wheel.
        dist_info: The ``*.dist-info`` folder name.
        metadata: The parsed ``METADATA``.
        entry_points: ``entry_points.txt``, by group then name (empty when absent).
    """

    path: Path
    files: dict[str, str]
    dist_info: str
    metadata: Message
    entry_points: dict[str, dict[str, str]]

    def payload(self) -> dict[str, str]:
        """Every file except ``RECORD`` (which lists the others' hashes)."""
        record = f"{self.dist_info}/RECORD"
        return {name: digest for name, digest in self.files.items() if name != record}

    def code_files(self) -> list[str]:
        """Every file outside the ``.dist-info`` folder."""
        return sorted(name for name in self.files if not name.startswith(self.dist_info + "/"))


def read_wheel(path: Path) -> WheelContents:
    """Open a wheel and read everything the checks need.

    Raises:
        ValueError: The file is not a wheel with exactly one ``.dist-info`` folder.
    """
    with zipfile.ZipFile(path) as archive:
        files = {
            info.filename: hashlib.sha256(archive.read(info)).hexdigest()
            for info in archive.infolist()
            if not info.is_dir()
        }
        dist_infos = {
            name.split("/")[0] for name in files if name.split("/")[0].endswith(".dist-info")
        }
        if len(dist_infos) != 1:
            raise ValueError(
                f"{path.name}: expected one .dist-info folder, found {sorted(dist_infos)}"
            )
        dist_info = dist_infos.pop()
        metadata = HeaderParser().parsestr(archive.read(f"{dist_info}/METADATA").decode("utf-8"))
        entry_points: dict[str, dict[str, str]] = {}
        name = f"{dist_info}/entry_points.txt"
        if name in files:
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(archive.read(name).decode("utf-8"))
            entry_points = {group: dict(parser[group]) for group in parser.sections()}
    return WheelContents(path, files, dist_info, metadata, entry_points)
