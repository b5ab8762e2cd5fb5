from django.apps import AppConfig


class CamouflageConfig(AppConfig):
    name = "camouflage"
    default_auto_field = "django.db.models.BigAutoField"
