"""Idempotency keys are stored as keyed hashes from now on (credits.idempotency.stored_key):
hash the keys of records still live, so a retry within their 24 h still replays."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations


def hash_keys(apps, schema_editor):
    record_model = apps.get_model("credits", "IdempotencyRecord")
    secret = hashlib.sha256(b"shieldx.credits.idempotency\x00" + settings.SECRET_KEY.encode()).digest()
    for record in record_model.objects.all().iterator():
        digest = hmac.new(secret, f"{record.tenant_id}\x00{record.key}".encode(), hashlib.sha256).hexdigest()
        record_model.objects.filter(pk=record.pk).update(key=digest)


class Migration(migrations.Migration):
    dependencies = [("credits", "0002_append_only_history")]
    operations = [migrations.RunPython(hash_keys, migrations.RunPython.noop)]
