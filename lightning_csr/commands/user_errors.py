"""A command's user errors (a bad path, a bad setting): one line on stderr and exit status 2, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def user_errors(command: str, *kinds: type[Exception]) -> Iterator[None]:
    """Turn the exceptions `kinds` raised in the block into `lightning-csr <command>: error: ...` and exit 2."""
    try:
        yield
    except kinds as error:
        print(f"lightning-csr {command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
