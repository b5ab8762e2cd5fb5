from django.core.management.base import BaseCommand, CommandError

from shieldx.errors import ApplicationError
from shieldx.models import Tenant
from shieldx.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant (or --operator). The key is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("tenant_id", nargs="?")
        parser.add_argument("--operator", action="store_true", help="a key that acts on any tenant")
        parser.add_argument("--scopes", required=True, help="comma-separated scopes, or *")
        parser.add_argument("--name", default="")

    def handle(self, *args, tenant_id=None, operator=False, scopes="", name="", **options):
        if bool(tenant_id) == operator:
            raise CommandError("give either TENANT_ID or --operator")
        tenant = None
        if tenant_id:
            tenant = Tenant.objects.filter(tenant_id=tenant_id).first()
            if tenant is None:
                raise CommandError(f"tenant {tenant_id!r} does not exist; create it with create_tenant")
        try:
            key, raw_key = api_key_create(tenant=tenant, scopes=scopes, name=name)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        owner = "operator" if operator else tenant_id
        self.stderr.write(f"Created key {key.prefix} for {owner} with scopes {','.join(key.scopes)}. It is shown once:")
        self.stdout.write(raw_key)
