"""Routes. SHIELDX_ROLE picks which app's API this process serves; every role keeps
the operational routes (/health, /ready, /metrics, docs, admin)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from shieldx import health
from shieldx.metrics import metrics_view

handler400 = "shieldx.errors.handler400"
handler403 = "shieldx.errors.handler403"
handler404 = "shieldx.errors.handler404"
handler500 = "shieldx.errors.handler500"

APP_ROUTES = {
    "credits": [path("credits/", include("credits.urls"))],
    "shadow": [path("shadow/", include("shadow.urls"))],
    "camouflage": [path("camouflage/", include("camouflage.urls"))],
}

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
]
for role, routes in APP_ROUTES.items():
    if settings.SHIELDX_ROLE in (role, "all"):
        urlpatterns += routes
