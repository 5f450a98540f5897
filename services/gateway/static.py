"""The dashboard: frontend/index.html at "/", frontend/ under "/static"."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Delta Neutral Engine</title></head>
<body><h1>Delta Neutral Engine</h1>
<p>The gateway is running, but the dashboard (frontend/index.html) is not installed.</p>
<p>API: <a href="/openapi.json">/openapi.json</a> &middot; <a href="/health">/health</a></p>
</body></html>
"""


def mount_frontend(app: FastAPI, frontend_dir: Path) -> None:
    index = frontend_dir / "index.html"

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        if index.is_file():
            # The token arrives in this page's URL: keep it out of caches (and, as every
            # answer, out of Referer headers: SecurityHeadersMiddleware).
            return FileResponse(index, headers={"Cache-Control": "no-store"})
        return HTMLResponse(PLACEHOLDER)

    if frontend_dir.is_dir():
        app.mount("/static", StaticFiles(directory=frontend_dir), name="static")
