from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from credits import services as credits_services
from shieldx.errors import ApplicationError
from shieldx.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant and its credits account, optionally with opening credits."

    def add_arguments(self, parser):
        parser.add_argument("tenant_id")
        parser.add_argument("--name", default="")
        parser.add_argument("--credits", type=int, default=0, help="opening credits (audited as a grant)")

    def handle(self, *args, tenant_id, name="", credits=0, **options):
        if credits < 0:
            raise CommandError("--credits must not be negative")
        try:
            with transaction.atomic():
                tenant_create(tenant_id=tenant_id, name=name)
                credits_services.account_open(tenant_id=tenant_id, initial_credits=credits, actor="cli:create_tenant")
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created tenant {tenant_id} with {credits} credits.")
