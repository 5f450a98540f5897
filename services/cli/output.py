"""Rich consoles for dne: a terminal's own width; in a pipe or a file, wide enough that no table
is cut (rich assumes 80 columns there, and abbreviated figures are no use to a script or a log)."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    # Not COLUMNS either: a terminal's width exported into a piped job would cut it again.
    return Console(stderr=stderr, width=PIPED_WIDTH)
