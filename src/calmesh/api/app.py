"""The FastAPI application, built by :func:`create_app`; engine and keys are made in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from calmesh import __version__
from calmesh.api.middleware import RequestContextMiddleware
from calmesh.api.problems import install_problem_handlers
from calmesh.api.routers import (
    api_keys,
    availability,
    bookings,
    conferencing,
    event_types,
    events,
    health,
    integrations,
    provider_notifications,
    tenant,
    users,
    webhook_events,
    webhooks,
)
from calmesh.config import Settings, load_settings
from calmesh.jobs.embedded import EmbeddedWorker
from calmesh.services.runtime import build_runtime
from calmesh.storage.migrate import upgrade

__all__ = ["create_app"]

log = logging.getLogger("calmesh.api")


def _operation_id(route: APIRoute) -> str:
    # Stable, readable method names for generated clients: "users-create_user".
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """The calmesh API. Settings are read from the environment unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        if runtime.is_sqlite:
            # The embedded default needs nothing run by hand; PostgreSQL deployments run
            # `calmesh db upgrade` once, not on every replica's start.
            await upgrade(runtime.engine)
        app.state.runtime = runtime
        worker = EmbeddedWorker(runtime) if settings.embedded_worker else None
        if worker is not None:
            worker.start()
        log.info("calmesh started", extra={"database": runtime.engine.dialect.name, "embedded_worker": worker is not None})
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await runtime.close()

    app = FastAPI(
        title="calmesh",
        version=__version__,
        summary="Calendar and conferencing integration API",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_bytes)

    for module in (
        health, tenant, api_keys, users, integrations, events, event_types, availability, bookings, webhooks, webhook_events,
        provider_notifications, conferencing,
    ):
        app.include_router(module.router)

    # The docs page's assets are served from the package, so it works on a machine that
    # cannot reach a CDN (a self-hosted box often cannot).
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="calmesh API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    return app
