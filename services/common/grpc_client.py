"""Client channels to the other services, traced like the servers, quick to find a restarted peer.

gRPC's own defaults wait 1 s, then 1.6 times longer each time, up to 120 s, between attempts to
reach a peer that went away: a service its supervisor restarted after a minute could then sit
unreached for another minute. Here a channel tries again at most every second (with gRPC's
±20 % jitter), so it reaches a restarted peer within about a second of it listening again.
While the peer is away, calls fail at once with UNAVAILABLE (no call here waits for the
channel to be ready unless it asks to), so an order is never held back and sent late.

Keepalive pings notice a peer that vanished without closing its connections (a host that froze
or lost its network); a killed process on a reachable host is noticed at once without them. The
servers keep gRPC's default ping policy, so a client pings at most twice between data frames
(`grpc.http2.max_pings_without_data`'s default), never often enough to be told "too many pings".
"""

from __future__ import annotations

from typing import Final

import grpc

from services.common.grpc_tls import TlsFiles
from services.common.service_auth import bearer_interceptors
from services.common.telemetry import client_interceptors

RECONNECT_BACKOFF_MS: Final = 1000

CHANNEL_OPTIONS: Final[tuple[tuple[str, int], ...]] = (
    # First retry a quarter second after a lost connection, then 0.4 s, 0.64 s, 1 s, 1 s ...
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
    # gRPC reads this one as the least time a connection attempt is given (default 20 s):
    # an attempt at a host that does not answer is abandoned and retried after 2 s.
    ("grpc.min_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    # Each channel keeps its own connections and reconnects on its own schedule, never on that
    # of another channel in the process that happens to have the same target and settings.
    ("grpc.use_local_subchannel_pool", 1),
)


def open_channel(address: str, token: str | None = None,
                 tls: TlsFiles | None = None) -> grpc.aio.Channel:
    """A channel to `address`; with `token`, every call carries it as a bearer token (the
    service token to the executor and the vault, the API token to the engine); with `tls`,
    over mutual TLS."""
    interceptors = [*client_interceptors(), *(bearer_interceptors(token) if token else [])]
    if tls is not None:
        return grpc.aio.secure_channel(address, tls.channel_credentials(),
                                       options=list(CHANNEL_OPTIONS), interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=list(CHANNEL_OPTIONS),
                                     interceptors=interceptors)
