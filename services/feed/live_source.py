"""Builds the live source from the feed's settings: the venue profile names the program, IDL
and Data API; RPC_URL names the node."""

from __future__ import annotations

from services.common.clock import Clock, SystemClock
from services.common.venue_profile import VenueProfile, load_profile
from services.feed.chain_live import ChainLiveMarket
from services.feed.data_api_history import DataApiHistory
from services.feed.drift_chain import DriftChainReader
from services.feed.drift_live_rows import DRIFT_ROWS
from services.feed.live_venue import LiveRows
from services.feed.settings import FeedSettings
from services.feed.velocity_chain import VelocityChainReader
from services.feed.velocity_live import VelocityLiveReader, VelocityRows


def venue_profile(settings: FeedSettings) -> VenueProfile:
    """VENUE_PROFILE (or VENUE_PROFILE_FILE); raises ValueError when it cannot be loaded or
    says its venue is unsupported."""
    profile = load_profile(settings.venue_profile, settings.venue_profile_file)
    profile.require_supported()
    return profile


def build_live_market(
    settings: FeedSettings, profile: VenueProfile, clock: Clock | None = None
) -> ChainLiveMarket:
    """Drift's live source, or Velocity's when the profile is Velocity's (its accounts need its
    own IDL, its State counts its markets and its funding rules are its own: velocity_live.py)."""
    clock = clock or SystemClock()
    data_api_url = (
        settings.data_api_url if settings.data_api_url is not None else profile.data_api_url
    )
    history = DataApiHistory(
        data_api_url, clock, shape=settings.data_api_shape,
        ttl_seconds=settings.cache_ttl_sec, retry_delays=settings.rpc_retry_delays,
    )
    reader: DriftChainReader | VelocityLiveReader
    rows: LiveRows
    if profile.family == "velocity":
        reader = VelocityLiveReader(VelocityChainReader.connect(
            settings.rpc_url, market_indexes=[], retry_delays=settings.rpc_retry_delays))
        rows = VelocityRows(profile.quote_symbol)
    else:
        reader = DriftChainReader.connect(
            settings.rpc_url, profile, retry_delays=settings.rpc_retry_delays
        )
        rows = DRIFT_ROWS
    return ChainLiveMarket(
        reader, history, clock,
        cache_ttl_seconds=settings.cache_ttl_sec,
        price_refresh_seconds=settings.price_refresh_sec,
        failure_backoff_seconds=settings.rpc_failure_backoff_sec,
        venue_name=profile.name,
        rows=rows,
    )
