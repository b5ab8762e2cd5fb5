from django.core.management import call_command
from django.core.management.base import BaseCommand

from shieldx.models import ApiKey, Tenant
from shieldx.services import api_key_create, api_key_revoke

DEMO_TENANT = "org-123"
DEMO_CREDITS = 15000


class Command(BaseCommand):
    help = "Create the demo tenant org-123 (15,000 credits) and print a fresh demo API key (make run)."
    # make run has just run migrate, which ran the system checks: their warnings once is enough.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the server answers, for the printed example")

    def handle(self, *args, **options):
        if not Tenant.objects.filter(tenant_id=DEMO_TENANT).exists():
            call_command("create_tenant", DEMO_TENANT, name="Demo organisation", credits=DEMO_CREDITS, stdout=self.stderr)
        tenant = Tenant.objects.get(tenant_id=DEMO_TENANT)
        for old in ApiKey.objects.filter(tenant=tenant, name="demo", revoked_at__isnull=True):
            api_key_revoke(key=old)
        _, raw_key = api_key_create(tenant=tenant, scopes="*", name="demo")
        base_url = options["base_url"].rstrip("/")
        self.stdout.write(
            "\n"
            f"Demo tenant: {DEMO_TENANT}\n"
            f"Demo API key (all scopes; shown once, previous demo keys revoked):\n\n    {raw_key}\n\n"
            f"Try:  KEY={raw_key}\n"
            f"      curl -s -H \"Authorization: Bearer $KEY\" {base_url}/credits/balance/{DEMO_TENANT}\n"
            f"Server: {base_url}  (API docs at {base_url}/api/docs)\n"
        )
