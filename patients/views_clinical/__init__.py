"""Pages of the clinical record (issue 3): reception, worklist, the visit form, results entry,
the ward's bed board and the inpatient stay, printable documents.

Thin views: parse a form, call one service or selector of `patients.clinical`, render. A
service's ValidationError lands beside the field it names; a stale version reloads the current
data with a message and overwrites nothing; records that are missing or not visible answer 404.
"""
