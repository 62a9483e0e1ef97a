"""Flat byte views: no copies, lengths in bytes."""

from __future__ import annotations

from array import array

import pytest

from proxyflow.api import as_message, byte_view, flat_buffer, flat_buffers, nbytes


def test_byte_view_recasts_wide_items_without_copy() -> None:
    data = array("d", [1.0, 2.0, 3.0])
    view = byte_view(data)
    assert len(view) == 24
    assert view.format == "B"
    data[0] = 5.0
    assert view[:8] == memoryview(array("d", [5.0])).cast("B")  # shares memory


def test_byte_view_copies_non_contiguous() -> None:
    view = memoryview(b"abcdef")[::2]
    assert bytes(byte_view(view)) == b"ace"


def test_flat_buffer_passes_bytes_and_bytearray() -> None:
    raw = b"abc"
    mutable = bytearray(b"abc")
    assert flat_buffer(raw) is raw
    assert flat_buffer(mutable) is mutable
    assert [len(b) for b in flat_buffers([raw, memoryview(array("i", [1, 2]))])] == [3, 8]


def test_nbytes() -> None:
    assert nbytes(b"abcd") == 4
    assert nbytes(memoryview(array("i", [1, 2]))) == 8


def test_as_message() -> None:
    raw = b"x"
    assert as_message(raw) is raw
    assert isinstance(as_message(bytearray(b"x")), memoryview)
    with pytest.raises(TypeError, match="bytes, bytearray or memoryview"):
        as_message("text")
    with pytest.raises(ValueError, match="C-contiguous"):
        as_message(memoryview(array("i", [1, 2, 3, 4])).cast("B").cast("i")[::2])
