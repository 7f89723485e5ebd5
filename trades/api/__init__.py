"""The JSON API on django-ninja: parameters validated by pydantic models (trades/api/params.py),
an OpenAPI schema at /api/openapi.json and its docs page at /api/docs, one error shape
(trades/api/errors.py), one rule for who may read (trades/api/auth.py)."""

from __future__ import annotations

from ninja import NinjaAPI

from trades.api import errors, flow, pulse
from trades.api.auth import TokenOrSignedIn
from trades.api.renderer import OrjsonRenderer

api = NinjaAPI(
    title="flowsite",
    version="1",
    description=(
        "Options flow: order hits filtered, paged, exported and streamed, with their insights, "
        "strike heatmaps, the day's summary, analogs and backtests. With API_TOKEN set, every "
        "endpoint wants `Authorization: Bearer <token>`."
    ),
    auth=TokenOrSignedIn(),
    renderer=OrjsonRenderer(),
    urls_namespace="api",
)
errors.install(api)
api.add_router("/pulse", pulse.router)
api.add_router("", flow.router)
