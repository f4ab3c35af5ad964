"""The audit trail's facility_id had two indexes: the foreign key's own and audit_facility_at
(facility_id, at DESC), which serves every lookup the first did. Every access inserts an audit row,
so the first is dropped. Only the index: Django's AlterField would also drop and re-add the foreign
key, re-checking every row of the trail under a lock."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "core_auditevent_facility_id_79cb56bc"  # Django's name for the foreign key's index


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0006_facility_bank_account"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="facility",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.facility",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "core_auditevent" ("facility_id")',
                ),
            ],
        ),
    ]
