"""Health-insurance claim dossiers in the MoH XML standard (QĐ 130/4750/3176; domain brief 3).

Step 1 of issue 5: models (`models.py`), table specs (`fields.py`), the derived XSD
(`schemas/`), the record snapshot (`data.py`), table builders (`builders.py`), the signed
GIAMDINHHS envelope (`envelope.py`, `signing.py`), validation (`validation.py`) and the
build/correct services (`services.py`). Submission, answers and reconciliation come in step 2.
"""
