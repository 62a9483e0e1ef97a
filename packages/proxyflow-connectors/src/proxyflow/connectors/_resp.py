"""Encoding of Redis (RESP2) commands into pieces that are sent without joining large values.

redis-py's packers copy every value at least once (hiredis into one new
string; both turn ``bytearray``/``memoryview`` values into ``bytes``). The
connector instead writes the protocol framing itself and hands large values
to ``sendall`` as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from proxyflow.api.protocols import BytesLike

__all__ = ["CRLF", "coalesce", "command", "set_header", "set_pieces"]

CRLF = b"\r\n"
_SET = b"*3\r\n$3\r\nSET\r\n"
_JOIN_BELOW = 32 * 1024
"""Pieces shorter than this are joined with their neighbours (one ``sendall`` instead of many)."""
_JOIN_MAX = 256 * 1024
"""Joined chunks are flushed once they reach this size."""


def command(*args: bytes) -> bytes:
    """Return the RESP encoding of a command whose arguments are all small ``bytes``.

    Example:
        ```python
        command(b"GETDEL", b"k")  # the 23 bytes "*2", "$6", "GETDEL", "$1", "k", each + CRLF
        ```
    """
    pieces = [b"*%d\r\n" % len(args)]
    for arg in args:
        pieces.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(pieces)


def set_header(name: bytes, size: int) -> bytes:
    """Return the framing of ``SET name <value>`` up to the value (``size`` bytes), exclusive.

    The value and then `CRLF` must follow.
    """
    return b"%b$%d\r\n%b\r\n$%d\r\n" % (_SET, len(name), name, size)


def coalesce(pieces: Iterable[BytesLike]) -> list[BytesLike]:
    """Join runs of small pieces, keep large ones as they are (no copy of large values)."""
    out: list[BytesLike] = []
    run: list[BytesLike] = []
    run_size = 0
    for piece in pieces:
        size = len(piece)
        if size >= _JOIN_BELOW:
            if run:
                out.append(b"".join(run) if len(run) > 1 else run[0])
                run, run_size = [], 0
            out.append(piece)
            continue
        run.append(piece)
        run_size += size
        if run_size >= _JOIN_MAX:
            out.append(b"".join(run))
            run, run_size = [], 0
    if run:
        out.append(b"".join(run) if len(run) > 1 else run[0])
    return out


def set_pieces(names: Sequence[bytes], values: Sequence[BytesLike]) -> list[BytesLike]:
    """Return the pieces of pipelined ``SET name value`` commands, ready for ``sendall``."""
    pieces: list[BytesLike] = []
    for name, value in zip(names, values, strict=True):
        pieces.append(set_header(name, len(value)))
        pieces.append(value)
        pieces.append(CRLF)
    return coalesce(pieces)
