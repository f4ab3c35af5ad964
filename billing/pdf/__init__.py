"""Printable billing documents (reportlab): the receipt and the cost statement (01/KBCB).

`data` holds the frozen dataclasses the selectors fill; `receipt.render_receipt` and
`cost_statement.render_cost_statement` turn them into PDF bytes, with no queries.
"""
