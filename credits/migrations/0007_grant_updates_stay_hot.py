"""Live grants are indexed by a generated ``spent`` column instead of ``remaining > 0``,
so a consume's update of ``remaining`` can be HOT (see ``Grant.spent``)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('credits', '0006_alerts_and_events'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='grant',
            name='grant_live',
        ),
        migrations.RemoveIndex(
            model_name='grant',
            name='grant_expiring_unsent',
        ),
        migrations.AddField(
            model_name='grant',
            name='spent',
            field=models.GeneratedField(db_persist=True, expression=models.Q(('remaining', 0)), output_field=models.BooleanField()),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(condition=models.Q(('spent', False)), fields=['account'], name='grant_live'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(condition=models.Q(('expiring_sent', False), ('spent', False)), fields=['expires_at'], name='grant_expiring_unsent'),
        ),
    ]
