"""Operator forwarding for [`Proxy`][proxyflow.proxy.proxy.Proxy].

`_OperatorForwarding` is a slot-less mixin holding every special method that
forwards an operator to the target: comparisons and hashing, conversions,
unary, binary and reflected operators, and in-place operators. An in-place
operator rebinds the target and keeps the proxy (``p += 1`` on a proxy of
``1`` makes the target ``2``). Each method resolves through
``proxyflow.proxy._state._target``, so the factory still runs once.
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any, TypeVar

from proxyflow.proxy._state import _obj, _rebind

_S = TypeVar("_S")


class _OperatorForwarding:
    """Forward comparisons, conversions and arithmetic to the proxy's target."""

    __slots__ = ()

    # -- comparisons ---------------------------------------------------------------------------

    def __eq__(self, other: object) -> Any:
        return _obj(self) == other

    def __ne__(self, other: object) -> Any:
        return _obj(self) != other

    def __lt__(self, other: Any) -> Any:
        return _obj(self) < other

    def __le__(self, other: Any) -> Any:
        return _obj(self) <= other

    def __gt__(self, other: Any) -> Any:
        return _obj(self) > other

    def __ge__(self, other: Any) -> Any:
        return _obj(self) >= other

    def __hash__(self) -> int:
        return hash(_obj(self))

    # -- conversions and unary operators ----------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(_obj(self))

    def __int__(self) -> int:
        return int(_obj(self))

    def __float__(self) -> float:
        return float(_obj(self))

    def __complex__(self) -> complex:
        return complex(_obj(self))

    def __index__(self) -> int:
        return operator.index(_obj(self))

    def __fspath__(self) -> str | bytes:
        path: str | bytes = os.fspath(_obj(self))
        return path

    def __round__(self, ndigits: int | None = None) -> Any:
        target: Any = _obj(self)
        return round(target) if ndigits is None else round(target, ndigits)

    def __trunc__(self) -> Any:
        return math.trunc(_obj(self))

    def __floor__(self) -> Any:
        return math.floor(_obj(self))

    def __ceil__(self) -> Any:
        return math.ceil(_obj(self))

    def __neg__(self) -> Any:
        return -_obj(self)

    def __pos__(self) -> Any:
        return +_obj(self)

    def __abs__(self) -> Any:
        return abs(_obj(self))

    def __invert__(self) -> Any:
        return ~_obj(self)

    # -- binary operators ----------------------------------------------------------------------

    def __add__(self, other: Any) -> Any:
        return _obj(self) + other

    def __sub__(self, other: Any) -> Any:
        return _obj(self) - other

    def __mul__(self, other: Any) -> Any:
        return _obj(self) * other

    def __matmul__(self, other: Any) -> Any:
        return _obj(self) @ other

    def __truediv__(self, other: Any) -> Any:
        return _obj(self) / other

    def __floordiv__(self, other: Any) -> Any:
        return _obj(self) // other

    def __mod__(self, other: Any) -> Any:
        return _obj(self) % other

    def __divmod__(self, other: Any) -> Any:
        return divmod(_obj(self), other)

    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        target: Any = _obj(self)
        return pow(target, other) if modulo is None else pow(target, other, modulo)

    def __lshift__(self, other: Any) -> Any:
        return _obj(self) << other

    def __rshift__(self, other: Any) -> Any:
        return _obj(self) >> other

    def __and__(self, other: Any) -> Any:
        return _obj(self) & other

    def __xor__(self, other: Any) -> Any:
        return _obj(self) ^ other

    def __or__(self, other: Any) -> Any:
        return _obj(self) | other

    # -- reflected binary operators ------------------------------------------------------------

    def __radd__(self, other: Any) -> Any:
        return other + _obj(self)

    def __rsub__(self, other: Any) -> Any:
        return other - _obj(self)

    def __rmul__(self, other: Any) -> Any:
        return other * _obj(self)

    def __rmatmul__(self, other: Any) -> Any:
        return other @ _obj(self)

    def __rtruediv__(self, other: Any) -> Any:
        return other / _obj(self)

    def __rfloordiv__(self, other: Any) -> Any:
        return other // _obj(self)

    def __rmod__(self, other: Any) -> Any:
        return other % _obj(self)

    def __rdivmod__(self, other: Any) -> Any:
        return divmod(other, _obj(self))

    def __rpow__(self, other: Any) -> Any:
        return pow(other, _obj(self))

    def __rlshift__(self, other: Any) -> Any:
        return other << _obj(self)

    def __rrshift__(self, other: Any) -> Any:
        return other >> _obj(self)

    def __rand__(self, other: Any) -> Any:
        return other & _obj(self)

    def __rxor__(self, other: Any) -> Any:
        return other ^ _obj(self)

    def __ror__(self, other: Any) -> Any:
        return other | _obj(self)

    # -- in-place operators (rebind the target, keep the proxy) ----------------------------------

    def __iadd__(self: _S, other: Any) -> _S:
        _rebind(self, operator.iadd, other)
        return self

    def __isub__(self: _S, other: Any) -> _S:
        _rebind(self, operator.isub, other)
        return self

    def __imul__(self: _S, other: Any) -> _S:
        _rebind(self, operator.imul, other)
        return self

    def __imatmul__(self: _S, other: Any) -> _S:
        _rebind(self, operator.imatmul, other)
        return self

    def __itruediv__(self: _S, other: Any) -> _S:
        _rebind(self, operator.itruediv, other)
        return self

    def __ifloordiv__(self: _S, other: Any) -> _S:
        _rebind(self, operator.ifloordiv, other)
        return self

    def __imod__(self: _S, other: Any) -> _S:
        _rebind(self, operator.imod, other)
        return self

    def __ipow__(self: _S, other: Any) -> Any:  # type: ignore[misc]
        _rebind(self, operator.ipow, other)
        return self

    def __ilshift__(self: _S, other: Any) -> _S:
        _rebind(self, operator.ilshift, other)
        return self

    def __irshift__(self: _S, other: Any) -> _S:
        _rebind(self, operator.irshift, other)
        return self

    def __iand__(self: _S, other: Any) -> _S:
        _rebind(self, operator.iand, other)
        return self

    def __ixor__(self: _S, other: Any) -> _S:
        _rebind(self, operator.ixor, other)
        return self

    def __ior__(self: _S, other: Any) -> _S:
        _rebind(self, operator.ior, other)
        return self
