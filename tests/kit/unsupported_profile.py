"""A venue profile this build refuses (`unsupported` says why), written to a file for
VENUE_PROFILE_FILE: every service must refuse it before it connects or serves."""

from __future__ import annotations

from pathlib import Path

from services.common.venue_profile import PROFILE_DIR

NAME = "next-fork"
WHY = ("its accounts have not been read with an IDL of its own: a Drift IDL would read them "
       "with wrong values")
REFUSAL = f"venue profile {NAME!r} is not supported: {WHY}"


def unsupported_profile_file(directory: Path) -> Path:
    """Drift's profile under another name, marked unsupported (its IDL path made absolute)."""
    text = (PROFILE_DIR / "drift.toml").read_text()
    text = text.replace('name = "drift"', f'name = "{NAME}"', 1)
    text = text.replace('unsupported = ""', f'unsupported = "{WHY}"', 1)
    assert WHY in text, "drift.toml no longer says unsupported = \"\""
    path = directory / f"{NAME}.toml"
    path.write_text(text)
    return path
