from django.core.management.base import BaseCommand, CommandError

from credits import selectors


class Command(BaseCommand):
    help = "Recompute every tenant's audit hash chain. Exits 1 naming the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="verify one tenant only")

    def handle(self, *args, tenant=None, **options):
        tenants = [tenant] if tenant else selectors.tenants_with_accounts()
        broken = []
        for tenant_id in tenants:
            report = selectors.verify_chain(tenant_id=tenant_id)
            if report["valid"]:
                self.stdout.write(f"ok      {tenant_id}: {report['length']} entries, head {report['head_hash']}")
            else:
                self.stdout.write(f"BROKEN  {tenant_id}: first broken entry is seq {report['broken_at_seq']}")
                broken.append(f"{tenant_id} at seq {report['broken_at_seq']}")
        if broken:
            raise CommandError(f"audit chain broken: {'; '.join(broken)}", returncode=1)
