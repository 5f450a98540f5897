"""The venue as configuration: program id, IDL, quote mint, Data API and swap hosts.

Profiles live in `config/venues/<name>.toml` (or any file named by VENUE_PROFILE_FILE); no
code outside a profile names a venue's addresses. A profile whose `unsupported` says why loads
(its fields can be read) but refuses every service that would connect to or serve its venue.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROFILE_DIR = Path(__file__).resolve().parents[2] / "config" / "venues"
_BASE58 = r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"


class UnsupportedVenueError(ValueError):
    """The profile's venue cannot be read or traded correctly by this build (its `unsupported`)."""


class VenueProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    display_name: str
    program_id: str = Field(pattern=_BASE58)
    idl: str
    # The program's code base, which fixes its account layouts and rules: driftpy reads
    # "drift"; "velocity" is read with its own IDL (services/executor/velocity).
    family: Literal["drift", "velocity"] = "drift"
    cluster: str
    genesis_hash: str = Field(pattern=_BASE58)
    quote_symbol: str
    quote_mint: str = Field(pattern=_BASE58)
    quote_spot_market_index: int = Field(ge=0)
    sol_mint: str = Field(pattern=_BASE58)
    data_api_url: str = ""
    swap_api_url: str = ""
    # Why this build must not connect to or serve the venue; empty: supported.
    unsupported: str = ""

    def require_supported(self) -> None:
        """Refuses a profile that says it is unsupported, with its reason."""
        if self.unsupported.strip():
            raise UnsupportedVenueError(
                f"venue profile {self.name!r} is not supported: {self.unsupported.strip()}")

    def require_family(self, family: str, reader: str) -> None:
        """Refuses a profile of another code base than `reader` reads (its layouts differ)."""
        self.require_supported()
        if self.family != family:
            raise UnsupportedVenueError(
                f"venue profile {self.name!r} is of the {self.family} family; {reader} reads "
                f"the {family} family's layouts and would misread its accounts")

    def idl_json(self) -> str:
        """The IDL text: `driftpy:<file>` means the one bundled with driftpy; a relative path
        is read from config/venues (where the vendored IDLs are)."""
        if self.idl.startswith("driftpy:"):
            import driftpy

            return (Path(driftpy.__file__).parent / "idl" / self.idl.removeprefix("driftpy:")
                    ).read_text()
        return (PROFILE_DIR / self.idl).read_text()


def load_profile(name: str = "drift", path: str | Path | None = None) -> VenueProfile:
    """Loads a profile by name from config/venues, or from an explicit file."""
    file = Path(path) if path else PROFILE_DIR / f"{name}.toml"
    if not file.is_file():
        known = sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
        raise ValueError(f"no venue profile {name!r} at {file}; known profiles: {known}")
    return VenueProfile.model_validate(tomllib.loads(file.read_text()))
