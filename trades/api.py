from django.http import HttpRequest, JsonResponse


def smart_money(request: HttpRequest) -> JsonResponse:  # replaced by the API work
    return JsonResponse({"results": []})
