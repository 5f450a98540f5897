"""The live driver's view of the profile's venue: driftpy for Drift, Velocity's own IDL for
Velocity (services/executor/drift/venue_view.py says what a view answers)."""

from __future__ import annotations

import json

from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

from services.common.anchor_idl import AnchorAccountsDecoder, AnchorIdl
from services.common.venue_profile import VenueProfile
from services.executor.drift.drift_view import DriftView, build_drift_client
from services.executor.drift.venue_view import VenueView
from services.executor.velocity.velocity_view import VelocityView


def open_venue_view(connection: AsyncClient, keypair: Keypair, profile: VenueProfile,
                    sub_account: int) -> VenueView:
    if profile.family == "velocity":
        decoder = AnchorAccountsDecoder(AnchorIdl(json.loads(profile.idl_json())))
        return VelocityView(connection, keypair.pubkey(), decoder, sub_account,
                            profile.quote_spot_market_index)
    client = build_drift_client(connection, keypair, profile, sub_account)
    return DriftView(client, sub_account, profile.quote_spot_market_index)
