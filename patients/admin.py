"""No patient data in the Django admin.

Charts are read and changed only through the registry's own pages and services, which check the
facility scope and write an audit entry for every read and write; the generic admin does neither.
Merges are reviewed and reversed through the registry's merge pages for the same reason.
"""
