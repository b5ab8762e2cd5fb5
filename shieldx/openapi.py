"""OpenAPI descriptions that DRF cannot infer: the Bearer scheme and the error shape."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "shieldx.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer sxk_…`"}


ErrorSerializer = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
                "request_id": serializers.CharField(),
            },
        )
    },
)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of a route, all in the contract's one shape."""
    return {status: OpenApiResponse(ErrorSerializer) for status in statuses}
