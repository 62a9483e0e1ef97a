"""Entry point of ``python -m proxyflow_release``."""

from __future__ import annotations

import sys

from proxyflow_release.cli import main

if __name__ == "__main__":
    sys.exit(main())
