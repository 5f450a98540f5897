"""Services that stop when the launcher dies, even by kill -9.

The launcher stops its services itself on Ctrl-C or SIGTERM; killed outright it cannot, and the
services would live on holding their ports, so that the next `make run` fails to bind. Linux's
PR_SET_PDEATHSIG sends the child SIGTERM (a clean stop, state flushed) when its parent dies."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn for the service's process, or None where Linux's prctl is missing."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)   # loaded here: the child only calls it
    parent = os.getpid()

    def in_child() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:   # the launcher died between fork and prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child
