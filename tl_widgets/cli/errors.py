"""One-line error reporting for the CLI."""

from __future__ import annotations

import sys

# Errors a user can fix: printed as one line, exit status 1. Anything else is a bug and shows its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, OSError, RuntimeError)


def fail(message: str, code: int = 1) -> int:
    """Prints ``tl-widgets: error: MESSAGE`` on stderr and returns ``code``."""
    print(f"tl-widgets: error: {message}", file=sys.stderr)
    return code
