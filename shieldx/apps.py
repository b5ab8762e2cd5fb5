from django.apps import AppConfig


class ShieldxConfig(AppConfig):
    name = "shieldx"
    verbose_name = "Tenants and API keys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.signals import request_finished, setting_changed
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from shieldx import masking, openapi  # noqa: F401 - openapi registers the Bearer scheme with drf-spectacular
        from shieldx.auth import keys_changed
        from shieldx.middleware import forget_request_id
        from shieldx.models import ApiKey, Tenant

        masking.set_phone_regions(settings.SHIELDX_PHONE_REGIONS)
        setting_changed.connect(_phone_regions_changed, dispatch_uid="shieldx.phone_regions")
        request_finished.connect(forget_request_id, dispatch_uid="shieldx.forget_request_id")

        # Any saved or deleted key or tenant (admin, shell, services) may change who may
        # call: every process's verified-key cache is flushed once it commits.
        def flush(**kwargs) -> None:
            transaction.on_commit(keys_changed)

        for model in (ApiKey, Tenant):
            post_save.connect(flush, sender=model, weak=False, dispatch_uid=f"keys-changed-save-{model.__name__}")
            post_delete.connect(flush, sender=model, weak=False, dispatch_uid=f"keys-changed-delete-{model.__name__}")


def _phone_regions_changed(*, setting: str, value, **kwargs) -> None:
    if setting == "SHIELDX_PHONE_REGIONS":
        from shieldx import masking
        from shieldx.masking.phones import DEFAULT_PHONE_REGIONS

        masking.set_phone_regions(DEFAULT_PHONE_REGIONS if value is None else value)
