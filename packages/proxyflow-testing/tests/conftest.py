import sys
from pathlib import Path

# The reference implementations are imported by name, also by pytester's inner
# runs. pytester itself is enabled with "-p pytester" in the pytest settings
# (here and at the repository root): pytest_plugins may not sit in a nested conftest.
sys.path.insert(0, str(Path(__file__).parent))
