from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credits.metrics import AuditFigures, CacheFigures
        from shieldx.metrics import register_scrape_collector

        register_scrape_collector(CacheFigures)
        register_scrape_collector(AuditFigures)
