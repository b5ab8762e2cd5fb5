from django.apps import AppConfig


class ShieldxConfig(AppConfig):
    name = "shieldx"
    verbose_name = "Tenants and API keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.signals import setting_changed

        from shieldx import masking, openapi  # noqa: F401 - openapi registers the Bearer scheme with drf-spectacular

        masking.set_phone_regions(settings.SHIELDX_PHONE_REGIONS)
        setting_changed.connect(_phone_regions_changed, dispatch_uid="shieldx.phone_regions")


def _phone_regions_changed(*, setting: str, value, **kwargs) -> None:
    if setting == "SHIELDX_PHONE_REGIONS":
        from shieldx import masking
        from shieldx.masking.phones import DEFAULT_PHONE_REGIONS

        masking.set_phone_regions(DEFAULT_PHONE_REGIONS if value is None else value)
