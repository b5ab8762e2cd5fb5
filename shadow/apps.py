from django.apps import AppConfig


class ShadowConfig(AppConfig):
    name = "shadow"
    verbose_name = "Shadow evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shadow.metrics import EvaluationFigures
        from shieldx.metrics import register_scrape_collector

        register_scrape_collector(EvaluationFigures)
