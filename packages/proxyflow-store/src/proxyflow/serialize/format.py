"""The default tagged serialization format (registered as ``"default"``).

Every payload that is not raw binary starts with a one-byte *tag*. The tags are
``0xF8``-``0xFB``: byte values that never start valid UTF-8 and rarely start
binary formats, so raw binary payloads can almost always travel untagged.

| tag    | name        | body (after the tag byte)                    | read back as |
|--------|-------------|----------------------------------------------|--------------|
| (none) | raw         | the whole payload (empty, or not starting with a tag byte) | `bytes` |
| `0xF8` | escaped raw | raw binary data that happens to start with a tag byte | `bytes` |
| `0xF9` | str         | UTF-8 text                                   | `str`        |
| `0xFA` | pickle 5    | header, pickle stream, out-of-band buffers (below) | the object |
| `0xFB` | bytearray   | the bytes of a `bytearray`                   | `bytearray`  |

Pickle 5 layout (all integers little-endian):

```text
offset        size       field
0             1          tag 0xFA
1             4          n: number of out-of-band buffers (uint32)
5             8          p: length of the pickle stream (uint64)
13            8 * n      length of each buffer (uint64)
13 + 8n       p          pickle stream (protocol 5)
...           ...        buffer i, starting at the next multiple of 64
                         bytes from the start of the payload (zero padding)
```

Types: the type serialized is the type deserialized. ``bytes`` come back as
``bytes``, ``bytearray`` as ``bytearray``, ``str`` as ``str``; a
``memoryview`` comes back as ``bytes`` (a view cannot outlive the memory it
shows), whatever buffer type the connector or broker hands over.

Copies:

* ``bytes`` and ``memoryview`` are returned **as is** (no copy; a
  memoryview that is not flat unsigned bytes is returned as a flat
  ``cast("B")`` view of the same memory). Only a payload whose first byte is a
  tag byte is escaped, at the cost of one copy. Reading a raw payload costs no
  copy when it arrives as ``bytes`` (as from the built-in connectors), one
  copy into ``bytes`` otherwise.
* ``bytearray`` is prefixed with its tag: one copy for
  [`serialize`][proxyflow.serialize.format.serialize], none for
  [`serialize_parts`][proxyflow.serialize.format.serialize_parts] (the tag and
  the bytearray are two pieces). Reading one copies it into a new
  ``bytearray``, which the caller owns.
* ``str`` is encoded to UTF-8 and prefixed with its tag.
* Anything else is pickled with protocol 5 and a ``buffer_callback``: large
  contiguous buffers (numpy arrays, ``pickle.PickleBuffer``) are laid out after
  the stream in **one** preallocated ``bytearray``, so each is copied exactly
  once. Deserializing passes memoryview slices of the input as ``buffers=``,
  so the rebuilt objects share memory with the input (zero copies). An array
  rebuilt from an immutable input (``bytes``, what the built-in connectors
  return) is therefore read-only: ``array.copy()`` makes a writable one.
* [`serialize_parts`][proxyflow.serialize.format.serialize_parts] returns the
  same bytes as a list of pieces whose out-of-band buffers are views of the
  object's memory (zero copies), for connectors that write pieces with one
  vectored call.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

from proxyflow.api.buffers import byte_view
from proxyflow.serialize.exceptions import SerializationError

__all__ = [
    "TAG_BYTEARRAY",
    "TAG_ESCAPED",
    "TAG_PICKLE5",
    "TAG_STR",
    "deserialize",
    "serialize",
    "serialize_parts",
]

TAG_ESCAPED = 0xF8
"""Tag of raw binary data whose first byte collides with a tag byte."""
TAG_STR = 0xF9
"""Tag of UTF-8 text."""
TAG_PICKLE5 = 0xFA
"""Tag of a pickle protocol 5 stream followed by its out-of-band buffers."""
TAG_BYTEARRAY = 0xFB
"""Tag of the bytes of a ``bytearray`` (read back as a ``bytearray``)."""
_TAG_FIRST, _TAG_LAST = 0xF8, 0xFB
_HEAD = struct.Struct("<IQ")
_HEAD_END = 1 + _HEAD.size
_ALIGN = 64
_TAG_PICKLE5_BYTE = bytes((TAG_PICKLE5,))
_TAG_BYTEARRAY_BYTE = bytes((TAG_BYTEARRAY,))
_TAG_STR_BYTE = bytes((TAG_STR,))
_ZEROS = bytes(_ALIGN)


def _align(offset: int) -> int:
    return (offset + _ALIGN - 1) // _ALIGN * _ALIGN


def _serialize_raw(data: bytes | memoryview) -> bytes | bytearray | memoryview:
    if isinstance(data, memoryview):
        if not data.contiguous:
            data = data.tobytes()  # a strided view has no single buffer to hand on
        elif data.ndim != 1 or data.format != "B":
            data = data.cast("B")
    if len(data) == 0 or not _TAG_FIRST <= data[0] <= _TAG_LAST:
        return data
    return b"".join((bytes((TAG_ESCAPED,)), data))


def _pickle_layout(obj: Any) -> tuple[bytes, bytes, list[memoryview], list[int], int]:
    """Pickle ``obj``; return its header, stream, out-of-band buffers, their offsets, total size.

    The header is the tag, the counts and the buffer length table (everything
    before the pickle stream). Nothing is copied: the buffers are views of the
    object's own memory.
    """
    raws: list[memoryview] = []

    def keep(buffer: pickle.PickleBuffer) -> bool:
        try:
            raws.append(buffer.raw())
        except BufferError:
            return True  # not contiguous: let pickle write it in-band
        return False

    try:
        stream = pickle.dumps(obj, protocol=5, buffer_callback=keep)
    except Exception as exc:
        for raw in raws:
            raw.release()
        raise SerializationError(
            f"cannot serialize object of type {type(obj).__qualname__}: {exc}"
        ) from exc
    count = len(raws)
    header = b"".join(
        (
            _TAG_PICKLE5_BYTE,
            _HEAD.pack(count, len(stream)),
            struct.pack(f"<{count}Q", *(raw.nbytes for raw in raws)),
        )
    )
    offset = len(header) + len(stream)
    offsets = []
    for raw in raws:
        offset = _align(offset)
        offsets.append(offset)
        offset += raw.nbytes
    return header, stream, raws, offsets, offset


def _serialize_pickle(obj: Any) -> bytearray:
    header, stream, raws, offsets, total = _pickle_layout(obj)
    out = bytearray(total)
    table = len(header)
    with memoryview(out) as view:
        view[:table] = header
        view[table : table + len(stream)] = stream
        for raw, start in zip(raws, offsets, strict=True):
            view[start : start + raw.nbytes] = raw
            raw.release()
    return out


def serialize_parts(obj: Any) -> list[bytes | bytearray | memoryview]:
    """Serialize ``obj`` like `serialize`, as a list of pieces, without copying buffers.

    ``b"".join(serialize_parts(obj)) == serialize(obj)`` and
    [`deserialize`][proxyflow.serialize.format.deserialize] reads the
    concatenation unchanged. For a pickled object the pieces are the header, the
    pickle stream, the zero padding and each out-of-band buffer as a memoryview
    of the object's own memory (a numpy array is **not** copied), so a connector
    can write them with one vectored call (``os.writev``, several ``sendall``)
    instead of gathering them first. Every piece is flat:
    ``len(piece)`` is its size in bytes. Zero-length pieces are left out.

    The views share memory with ``obj``: write the pieces out before changing
    ``obj``.

    Args:
        obj: Any object [`serialize`][proxyflow.serialize.format.serialize] accepts.

    Returns:
        The pieces, in order: one piece for raw binary data and text, two for
            a ``bytearray`` (its tag, then the bytearray itself).

    Raises:
        SerializationError: If ``obj`` cannot be pickled.

    Examples:
        >>> from proxyflow.serialize import deserialize, serialize, serialize_parts
        >>> parts = serialize_parts({"a": [1, 2]})
        >>> b"".join(parts) == serialize({"a": [1, 2]})
        True
        >>> deserialize(b"".join(parts))
        {'a': [1, 2]}
    """
    kind = type(obj)
    if kind is bytes or kind is memoryview or kind is str:
        return [serialize(obj)]
    if kind is bytearray:
        return [_TAG_BYTEARRAY_BYTE, obj] if obj else [_TAG_BYTEARRAY_BYTE]
    header, stream, raws, offsets, _total = _pickle_layout(obj)
    parts: list[bytes | bytearray | memoryview] = [header, stream]
    end = len(header) + len(stream)
    for raw, start in zip(raws, offsets, strict=True):
        if start > end:
            parts.append(_ZEROS[: start - end])
        if raw.nbytes:  # PickleBuffer.raw() views are flat unsigned bytes
            parts.append(raw)
        end = start + raw.nbytes
    return parts


def serialize(obj: Any) -> bytes | bytearray | memoryview:
    """Serialize ``obj`` into the tagged format described in this module.

    Args:
        obj: Any picklable object. ``bytes`` and ``memoryview`` pass through
            without a copy; a ``bytearray`` is tagged (one copy); ``str`` is
            stored as UTF-8.

    Returns:
        A bytes-like payload (``obj`` itself for ``bytes`` and flat memoryviews).

    Raises:
        SerializationError: If ``obj`` cannot be pickled (a lambda, a lock...).

    Examples:
        >>> from proxyflow.serialize import deserialize, serialize
        >>> data = b"abc"
        >>> serialize(data) is data
        True
        >>> deserialize(serialize({"a": [1, 2]}))
        {'a': [1, 2]}
    """
    kind = type(obj)
    if kind is bytes or kind is memoryview:
        return _serialize_raw(obj)
    if kind is str:
        return b"".join((_TAG_STR_BYTE, obj.encode("utf-8")))
    if kind is bytearray:
        return b"".join((_TAG_BYTEARRAY_BYTE, obj))
    return _serialize_pickle(obj)


def _deserialize_pickle(view: memoryview) -> Any:
    total = len(view)
    try:
        count, length = _HEAD.unpack_from(view, 1)
        if total < _HEAD_END + 8 * count:
            raise ValueError("buffer table runs past the end of the data")
        sizes = struct.unpack_from(f"<{count}Q", view, _HEAD_END)
    except (struct.error, ValueError) as exc:
        raise SerializationError(f"truncated or corrupt pickle header: {exc}") from exc
    start = _HEAD_END + 8 * count
    end = start + length
    buffers = []
    for size in sizes:
        offset = _align(end)
        end = offset + size
        buffers.append(view[offset:end])
    if end != total:
        raise SerializationError(
            f"corrupt pickle payload: layout needs {end} bytes but {total} were given"
        )
    try:
        return pickle.loads(view[start : start + length], buffers=buffers)
    except Exception as exc:
        raise SerializationError(f"cannot unpickle payload: {type(exc).__name__}: {exc}") from exc


def deserialize(data: bytes | bytearray | memoryview) -> Any:
    """Rebuild the object that `serialize` turned into ``data``.

    Args:
        data: A payload produced by [`serialize`][proxyflow.serialize.format.serialize].
            For pickled objects the result may share memory with ``data``
            (out-of-band buffers are not copied), so do not modify ``data``
            afterwards.

    Returns:
        The object, of the type that was serialized: raw binary payloads come
        back as ``bytes`` (``data`` itself when it is ``bytes``, else a copy),
        tagged ``bytearray`` payloads as a new ``bytearray``.

    Raises:
        SerializationError: If ``data`` is not bytes-like, or is truncated or corrupt.
    """
    if type(data) is bytes and (not data or not _TAG_FIRST <= data[0] <= _TAG_LAST):
        return data  # raw binary as bytes, the common case: no copy, no view
    try:
        view = byte_view(data)  # a strided view is copied, as serialize() does
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"expected a bytes-like object, got {type(data).__name__}"
        ) from exc
    if len(view) == 0 or not _TAG_FIRST <= view[0] <= _TAG_LAST:
        return bytes(view)  # raw binary handed over as a bytearray or a view
    tag = view[0]
    if tag == TAG_PICKLE5:
        return _deserialize_pickle(view)
    if tag == TAG_STR:
        try:
            return str(view[1:], "utf-8")
        except UnicodeDecodeError as exc:
            raise SerializationError(f"corrupt text payload: {exc}") from exc
    if tag == TAG_ESCAPED:
        return bytes(view[1:])
    return bytearray(view[1:])  # TAG_BYTEARRAY, the last of the four tags
