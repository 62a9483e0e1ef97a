"""proxyflow benchmark suite: proxyflow against raw brokers, hand-made claim-check and ProxyStore.

Run it with ``python -m proxyflow_bench`` (from ``benchmarks/`` or with
``PYTHONPATH=benchmarks``), ``hatch run bench:run`` or ``proxyflow bench``.
The entry point is `proxyflow_bench.cli.main`.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
