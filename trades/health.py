"""GET /healthz: the health report as JSON, 503 when any check fails. No login: load balancers call it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trades.selectors.health import check_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = check_health()
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)
