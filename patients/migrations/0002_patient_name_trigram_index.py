from django.db import migrations

# Diacritic-insensitive name search: "nguyen van an" finds "Nguyễn Văn An".
INDEX = """
CREATE INDEX patient_name_unaccent_trgm ON patients_patient
    USING gin (f_unaccent(lower(full_name)) gin_trgm_ops);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_initial"),
        ("core", "0002_search_extensions_audit_append_only"),
    ]

    operations = [
        migrations.RunSQL(INDEX, "DROP INDEX IF EXISTS patient_name_unaccent_trgm;"),
    ]
