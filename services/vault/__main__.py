"""python -m services.vault: the per-account ledger as a gRPC service.

DATABASE_URL may carry the database's password: a start-up failure is reported here, with
every password in the message and the traceback masked (`postgresql://user:***@host/db`).
"""

import asyncio
import os
import sys
import traceback

from pydantic import ValidationError

from services.common.grpc_server import run_service
from services.common.logs import register_secret
from services.common.service_auth import TokenError, load_service_token, service_token_guard
from services.vault.app import VaultApp
from services.vault.database import mask_password, url_passwords
from services.vault.settings import VaultSettings


def _masked(text: str) -> str:
    return mask_password(text, os.environ.get("DATABASE_URL", ""))


def main() -> int:
    # The URL's password, however a driver might quote it, is redacted from every log line.
    register_secret(*url_passwords(os.environ.get("DATABASE_URL", "")))
    try:
        settings = VaultSettings()
    except ValidationError as error:
        print(f"vault: invalid settings: {_masked(str(error))}", file=sys.stderr, flush=True)
        return 2
    try:
        token = load_service_token(settings)
    except TokenError as error:
        print(f"vault: {error}", file=sys.stderr, flush=True)
        return 2
    register_secret(token)
    app = VaultApp(settings)
    try:
        # Only the engine holds the token: the ledger is written by it alone.
        asyncio.run(run_service("vault", settings, app.register, on_start=app.start,
                                on_stop=app.stop, guard=service_token_guard(token)))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(_masked(traceback.format_exc()), file=sys.stderr)
        print(f"vault: start-up failed: {_masked(str(error))}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
