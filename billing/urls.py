"""The cashier's pages, under /cashier/ (namespace `cashier`)."""

from django.urls import path

from billing.views import bill, desk, refunds, shift

app_name = "cashier"
urlpatterns = [
    path("", desk.desk, name="desk"),
    # One bill
    path("encounter/<int:encounter_id>/", bill.bill, name="bill"),
    path("encounter/<int:encounter_id>/prepare/", bill.prepare, name="prepare"),
    path("encounter/<int:encounter_id>/deposit/", bill.deposit, name="deposit"),
    path("invoice/<int:invoice_id>/pay/", bill.pay, name="pay"),
    path("invoice/<int:invoice_id>/refund/", bill.refund, name="refund"),
    path("invoice/<int:invoice_id>/settle/", bill.settle, name="settle"),
    path("invoice/<int:invoice_id>/statement.pdf", bill.statement_pdf, name="statement_pdf"),
    path("payment/<int:payment_id>/receipt.pdf", bill.receipt_pdf, name="receipt_pdf"),
    path("<slug:kind>/<int:pk>/void/", bill.void, name="void"),
    # The shift
    path("shift/", shift.shift, name="shift"),
    path("shift/open/", shift.shift_open, name="shift_open"),
    path("shift/close/", shift.shift_close, name="shift_close"),
    path("shift/<int:shift_id>/", shift.shift_report, name="shift_report"),
    # Refunds above the threshold
    path("refunds/", refunds.refunds, name="refunds"),
    path("refunds/<int:refund_id>/decide/", refunds.decide, name="refund_decide"),
]
