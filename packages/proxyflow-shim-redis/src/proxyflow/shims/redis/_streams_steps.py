"""What a step of the Streams group reader asks its driver: one command, named.

A step of [`GroupCore`][proxyflow.shims.redis._streams_core.GroupCore] is a
generator (a [`Step`][proxyflow.shims.redis._streams_steps.Step]) that yields
a [`Command`][proxyflow.shims.redis._streams_steps.Command] and is sent the
reply: a client method call (`Call`), a registered script (`RunScript`) or
calls pipelined together (`Pipelined`). Each runs itself with ``run(client,
scripts)``: the redis-py driver takes the result, the ``redis.asyncio`` one
awaits it.
"""

from __future__ import annotations

import types
from collections.abc import Generator, Mapping
from typing import Any, NamedTuple, TypeVar

from proxyflow.shims.redis._streams_scripts import CLAIM, RELEASE, SETTLE

__all__ = ["SCRIPTS", "Call", "Command", "Pipelined", "RunScript", "Step"]

T = TypeVar("T")

SCRIPTS: Mapping[str, str] = types.MappingProxyType(
    {"claim": CLAIM, "settle": SETTLE, "release": RELEASE}
)
"""The Lua scripts a driver registers on its client, by the name `RunScript` uses."""


class Call(NamedTuple):
    """One command: the client method to call, with its arguments; the reply is its result."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] | None = None

    def run(self, client: Any, scripts: Mapping[str, Any]) -> Any:
        """Call the method on ``client`` (or a pipeline); an awaitable on ``redis.asyncio``."""
        if self.kwargs is None:
            return getattr(client, self.method)(*self.args)
        return getattr(client, self.method)(*self.args, **self.kwargs)


class RunScript(NamedTuple):
    """One call of a registered script (named in `SCRIPTS`); the reply is the script's."""

    script: str
    keys: list[str]
    args: list[Any]

    def run(self, client: Any, scripts: Mapping[str, Any]) -> Any:
        """Call the script registered on ``client`` (in ``scripts``); an awaitable on asyncio."""
        return scripts[self.script](keys=self.keys, args=self.args)


class Pipelined(NamedTuple):
    """Calls sent together in one non-transactional pipeline; the reply is the list of theirs."""

    calls: tuple[Call, ...]

    def run(self, client: Any, scripts: Mapping[str, Any]) -> Any:
        """Send the calls in one pipeline of ``client``; an awaitable on ``redis.asyncio``."""
        pipe = client.pipeline(transaction=False)
        for call in self.calls:
            call.run(pipe, scripts)  # queued: a pipeline's commands return at once
        return pipe.execute()


Command = Call | RunScript | Pipelined
"""What a step asks its driver to execute."""

Step = Generator[Command, Any, T]
"""A step of `GroupCore`: yields commands, is sent their replies, returns a ``T``."""
