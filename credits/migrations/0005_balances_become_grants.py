"""Balances become grants (CONTRACT §3a): each account's balance as it stands becomes one
non-expiring paid grant, holding what the account's pending holds hold, so that
balance = Σ remaining and reserved_funds = Σ held from the first moment. No ledger entry
is written: the balance does not change, only its breakdown appears."""

import secrets

from django.db import migrations
from django.utils import timezone


def balances_to_grants(apps, schema_editor):
    account_model = apps.get_model("credits", "Account")
    grant_model = apps.get_model("credits", "Grant")
    reservation_model = apps.get_model("credits", "Reservation")
    now = timezone.now()
    for account in account_model.objects.filter(balance__gt=0).iterator():
        grant = grant_model.objects.create(
            public_id=f"grt_{secrets.token_hex(12)}", account_id=account.pk, category="paid", priority=50,
            amount=account.balance, remaining=account.balance, held=account.reserved_funds,
            description="balance before grants", created_at=now,
        )
        for hold in reservation_model.objects.filter(account_id=account.pk, status="pending"):
            hold.grants = [{"grant_id": grant.public_id, "amount": hold.amount}]
            hold.save(update_fields=["grants"])


class Migration(migrations.Migration):
    dependencies = [("credits", "0004_grants")]
    operations = [migrations.RunPython(balances_to_grants, migrations.RunPython.noop)]
