from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from shieldx.urls import urlpatterns as project_urlpatterns


class Floor(APIView):
    """Same middleware, authentication, scope check and rate limiter as a balance read; no work."""

    required_scopes = {"GET": "credits:read"}

    def get(self, request, tenant_id):
        return Response({"tenant_id": tenant_id, "ok": True})


urlpatterns = [path("bench/floor/<str:tenant_id>", Floor.as_view()), *project_urlpatterns]
