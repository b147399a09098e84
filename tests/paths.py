"""Where the repository's files are, for tests at any depth."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
