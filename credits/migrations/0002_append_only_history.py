"""History cannot be rewritten: the database refuses UPDATE and DELETE on ledger and
audit rows, whatever the client (ORM, psql, a compromised process without superuser)."""

from django.db import migrations

TABLES = ("credits_ledgerentry", "credits_auditentry")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION credits_refuse_history_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'credits history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION credits_refuse_history_change()"
            )
    elif schema_editor.connection.vendor == "sqlite":
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'credits history is append-only: {op} on {table} refused'); END"
                )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS credits_refuse_history_change()")
    elif schema_editor.connection.vendor == "sqlite":
        for table in TABLES:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
