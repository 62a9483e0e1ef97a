"""The fault suite's conftest: puts this folder on ``sys.path`` for the ``faultkit`` package.

Spawned role processes import ``faultkit`` by name; ``multiprocessing`` hands
them this ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
