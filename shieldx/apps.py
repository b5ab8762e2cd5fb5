from django.apps import AppConfig


class ShieldxConfig(AppConfig):
    name = "shieldx"
    verbose_name = "Tenants and API keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from shieldx import openapi  # noqa: F401 - registers the Bearer scheme with drf-spectacular
        from shieldx.middleware import forget_request_id

        request_finished.connect(forget_request_id, dispatch_uid="shieldx.forget_request_id")
