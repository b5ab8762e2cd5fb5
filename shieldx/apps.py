from django.apps import AppConfig


class ShieldxConfig(AppConfig):
    name = "shieldx"
    verbose_name = "Tenants and API keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shieldx import openapi  # noqa: F401 - registers the Bearer scheme with drf-spectacular
