"""Printable clinical documents (reportlab): prescription, lab results, transfer and discharge papers."""
