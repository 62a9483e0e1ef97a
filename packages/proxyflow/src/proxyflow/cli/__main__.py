"""Run the command line with ``python -m proxyflow.cli``."""

from __future__ import annotations

from proxyflow.cli.app import main

main()
