"""The API's errors, one shape: ``{"error": "<parameter>: <what is wrong>", "errors": [...]}``.

django-ninja answers a parameter that does not validate with 422 and pydantic's list; we answer
400 with a sentence naming the parameter first (what a person reading a failed curl needs),
and keep the list for programs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

UNAUTHORIZED = "a valid 'Authorization: Bearer <token>' header is required"


def install(api: NinjaAPI) -> None:
    api.add_exception_handler(ValidationError, partial(bad_parameters, api))
    api.add_exception_handler(AuthenticationError, lambda request, _error: unauthorized(api, request))


def bad_parameters(api: NinjaAPI, request: HttpRequest, error: ValidationError) -> HttpResponse:
    found = [_problem(each) for each in error.errors]
    return api.create_response(
        request,
        {"error": "; ".join(f"{each['parameter']}: {each['message']}" for each in found), "errors": found},
        status=400,
    )


def unauthorized(api: NinjaAPI, request: HttpRequest) -> HttpResponse:
    response = api.create_response(request, {"error": UNAUTHORIZED}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="flowsite"'
    return response


def _problem(error: dict[str, Any]) -> dict[str, str]:
    # loc is ("query", "<schema field>", "<parameter>", ...) or ("path", "<parameter>").
    names = [str(part) for part in error.get("loc", ()) if part not in {"query", "path", "params", "filters"}]
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return {"parameter": names[-1] if names else "query", "message": message}
