"""Make the repository root importable, so tests can start the demo PSA (psa_simulator)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
