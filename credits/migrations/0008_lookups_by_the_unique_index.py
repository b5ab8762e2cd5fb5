"""Idempotency records lose their tenant-only indexes: the unique (tenant, key) index
serves every lookup, and the prepared lookup's generic plan can no longer pick the
tenant-only one and filter the key (see IdempotencyRecord.tenant)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('credits', '0007_grant_updates_stay_hot'),
        ('shieldx', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='idempotencyrecord',
            name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='shieldx.tenant'),
        ),
    ]
