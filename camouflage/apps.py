from django.apps import AppConfig


class CamouflageConfig(AppConfig):
    name = "camouflage"
    verbose_name = "Camouflage (payment data and PII)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from camouflage import checks, keyring  # noqa: F401 - registers the keyring check and its reset on setting changes
