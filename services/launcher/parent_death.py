"""Services that stop when the launcher dies, even by kill -9.

The launcher stops its services itself on Ctrl-C or SIGTERM; killed outright it cannot, and the
services would live on holding their ports, so that the next `make run` fails to bind. Linux's
PR_SET_PDEATHSIG sends the child SIGTERM (a clean stop, state flushed) when its parent dies.

It is set by this module run as a program in the service's own process, which then becomes the
service by exec (same pid; the setting survives exec): a preexec_fn calling prctl between fork
and exec in the multi-threaded launcher is not safe (it crashed under load).

    python -m services.launcher.parent_death <launcher pid> services.feed
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence

PR_SET_PDEATHSIG = 1


def command(python: str, module: str) -> list[str]:
    """The command line that starts `module` tied to this process's life (Linux only)."""
    if not sys.platform.startswith("linux"):
        return [python, "-m", module]
    return [python, "-m", __name__, str(os.getpid()), module]


def main(argv: Sequence[str]) -> None:
    parent, module = int(argv[0]), argv[1]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:   # the launcher died before the setting was made
        sys.exit(0)
    os.execv(sys.executable, [sys.executable, "-m", module])  # noqa: S606 (our module)


if __name__ == "__main__":
    main(sys.argv[1:])
