"""A static bearer token (DJANGO_SCIM_TOKEN) instead of Django's own authentication. Every path,
the test-only reset included, needs it."""

import hmac
import os

from django.http import HttpResponse


class _ScimClient:
    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = id = 0


class BearerTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.expected = ("Bearer " + os.environ["DJANGO_SCIM_TOKEN"]).encode()

    def __call__(self, request):
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, self.expected):
            return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="SCIM"'})
        request.user = _ScimClient()
        return self.get_response(request)
