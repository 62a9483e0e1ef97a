"""Code run in a spawned child process (importable by name, unlike test modules)."""

from __future__ import annotations

from multiprocessing.connection import Connection

from proxyflow.shims.zmq import ZeroMQPublisher


def publish(conn: Connection, count: int) -> None:
    """Bind a publisher, report its address, wait for one subscriber, publish."""
    with ZeroMQPublisher("tcp://127.0.0.1:*", linger=5.0) as publisher:
        conn.send(publisher.address)
        publisher.wait_for_subscribers(1, "from-child", timeout=20)
        for i in range(count):
            publisher.send_message("from-child", b"child-%d" % i)
        conn.recv()  # the parent says it received everything
