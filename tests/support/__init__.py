"""What the test suites share: the checkout's root, the recorded fixtures, and helpers
(nights made from a recorded run, clock skew, screenshots, the lab suites' environment)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
