"""The cashier's pages (under /cashier/, namespace `cashier`): the desk and its search, one bill
with its payments, deposits, refunds and settlement, the receipt and cost-statement PDFs, the
shift, and the refunds waiting for approval."""
