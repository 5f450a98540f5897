"""The vault process's parts, built from settings: store, servicer, start and stop hooks."""

from __future__ import annotations

import logging

import grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from services.common.clock import Clock, SystemClock
from services.common.errors import DomainError, ErrorCode
from services.vault.database import create_engine
from services.vault.servicer import VaultServicer, register
from services.vault.settings import VaultSettings
from services.vault.store import VaultStore

log = logging.getLogger(__name__)


def _unavailable(error: BaseException) -> bool:
    return isinstance(error, DomainError) and error.code is ErrorCode.VAULT_UNAVAILABLE


class VaultApp:
    def __init__(self, settings: VaultSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.store = VaultStore(create_engine(settings.database_url), clock or SystemClock())
        self.servicer = VaultServicer(self.store)

    def register(self, server: grpc.aio.Server) -> list[str]:
        return register(self.servicer, server)

    async def start(self) -> None:
        """Creates the tables, waiting a little for a database that is still starting."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_unavailable),
            stop=stop_after_attempt(self.settings.schema_attempts),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        ):
            with attempt:
                await self.store.create_schema()
        log.info("vault database ready", extra={"backend": self.store.engine.dialect.name})

    async def stop(self) -> None:
        await self.store.dispose()
