"""python -m services.vault: the per-account ledger as a gRPC service."""

import asyncio

from services.common.grpc_server import run_service
from services.vault.app import VaultApp
from services.vault.settings import VaultSettings

settings = VaultSettings()
app = VaultApp(settings)
asyncio.run(run_service("vault", settings, app.register, on_start=app.start, on_stop=app.stop))
