"""Client channels to the other services, traced like the servers."""

from __future__ import annotations

import grpc

from services.common.telemetry import client_interceptors


def open_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, interceptors=client_interceptors())
