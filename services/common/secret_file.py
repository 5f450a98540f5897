"""Reading a secret from a file only its owner can read: the wallet key, the service token.

A file others can read, or anyone but its owner can write, is refused. Group read is allowed:
Kubernetes mounts a Secret volume with the pod's fsGroup and adds group read to its defaultMode
(0400 becomes 0440), and that group is the pod's own. No message ever quotes the file's bytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretFileError(ValueError):
    pass


def read_secret_file(path: Path, setting: str, max_bytes: int, holds: str) -> bytes:
    """The bytes of `path` (named by the setting `setting`), at most `max_bytes` of them;
    `holds` names what a larger file was expected to be ("a token", "a key file")."""
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise SecretFileError(f"{setting}: {path} is not a regular file")
            if mode & (stat.S_IRWXO | stat.S_IWGRP):
                raise SecretFileError(f"{setting}: {path} is readable or writable by others "
                                      f"(mode {stat.S_IMODE(mode):04o}); chmod 600 or 400 it")
            raw = file.read(max_bytes + 1)
    except OSError as error:
        raise SecretFileError(f"{setting}: cannot read {path}: {error.strerror}") from None
    if len(raw) > max_bytes:
        raise SecretFileError(f"{setting}: {path} is larger than {holds} "
                              f"({max_bytes} bytes at most)")
    return raw
