"""Stable reason codes of the benefit engine and their Vietnamese labels.

Codes are what the engine returns and what is stored; labels are for people (cashier's page,
cost statement). Labels are lazy translations with the Vietnamese text as msgid.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# Visit-level: why the visit has its benefit rate (MUC_HUONG).
NO_CARD = "no_card"
CARD_NOT_VALID = "card_not_valid"
CARD_RATE = "card_rate"
GROUP_RATE = "group_rate"
COPAY_EXEMPT = "copay_exempt"
SMALL_VISIT = "small_visit"
PRIMARY_LEVEL = "primary_level"
CORRECT_ROUTE = "correct_route"
REFERRAL = "referral"
EMERGENCY = "emergency"
SELF_REFERRED = "self_referred"
ROUTE_RATE_MISSING = "route_rate_missing"

# Line-level: why a line's amounts differ from "bhyt amount × rate".
OUT_OF_SCOPE = "out_of_scope"
OUT_OF_SCOPE_COVERED = "out_of_scope_covered"
NO_BHYT_PRICE = "no_bhyt_price"
PRICE_DIFFERENCE = "price_difference"
RATIO_REDUCED = "ratio_reduced"
RATIO_WAIVED = "ratio_waived"
BHYT_ABOVE_HOSPITAL = "bhyt_above_hospital"
SUPPLIES_CAP = "supplies_cap"
FACILITY_SUPPORT = "facility_support"
PATIENT_SUPPORT = "patient_support"
SUPPORT_CAPPED = "support_capped"
ARV_COPAY = "arv_copay"

REASONS = {
    NO_CARD: _("Không có thẻ BHYT: người bệnh tự chi trả toàn bộ"),
    CARD_NOT_VALID: _("Thẻ BHYT không có giá trị sử dụng vào ngày khám: người bệnh tự chi trả"),
    CARD_RATE: _("Mức hưởng theo mã quyền lợi in trên thẻ"),
    GROUP_RATE: _("Mức hưởng theo đối tượng tại ngày khám (thay đổi từ 01/01/2026)"),
    COPAY_EXEMPT: _("Đủ 5 năm liên tục và được miễn cùng chi trả đến hết 31/12: hưởng 100%"),
    SMALL_VISIT: _("Tổng chi phí trong phạm vi BHYT của lần khám thấp hơn 15% lương cơ sở"),
    PRIMARY_LEVEL: _("Khám chữa bệnh tại cơ sở cấp ban đầu (trạm y tế xã): hưởng 100%"),
    CORRECT_ROUTE: _("Đúng tuyến / đúng nơi đăng ký"),
    REFERRAL: _("Có giấy chuyển cơ sở khám bệnh, chữa bệnh"),
    EMERGENCY: _("Cấp cứu: hưởng 100% mức hưởng của thẻ tại mọi cơ sở"),
    SELF_REFERRED: _("Tự đi khám chữa bệnh không đúng tuyến: mức hưởng nhân tỷ lệ theo cấp cơ sở"),
    ROUTE_RATE_MISSING: _("Chưa có tỷ lệ hưởng trái tuyến cho cấp cơ sở này: quỹ không chi trả"),
    OUT_OF_SCOPE: _("Ngoài phạm vi quyền lợi BHYT: người bệnh tự chi trả"),
    OUT_OF_SCOPE_COVERED: _("Thẻ mã quyền lợi 5: quỹ chi trả cả chi phí ngoài phạm vi"),
    NO_BHYT_PRICE: _("Chưa có giá BHYT: người bệnh tự chi trả"),
    PRICE_DIFFERENCE: _("Chênh lệch giữa giá bệnh viện và giá BHYT: người bệnh tự chi trả"),
    RATIO_REDUCED: _("Tỷ lệ thanh toán dịch vụ / BHYT dưới 100%: phần còn lại người bệnh tự trả"),
    RATIO_WAIVED: _("Thẻ mã quyền lợi 1: không áp dụng tỷ lệ thanh toán BHYT"),
    BHYT_ABOVE_HOSPITAL: _("Giá BHYT cao hơn giá bệnh viện: thanh toán theo giá bệnh viện"),
    SUPPLIES_CAP: _("Vật tư y tế vượt mức trần thanh toán 45 tháng lương cơ sở"),
    FACILITY_SUPPORT: _("Khoản tài trợ chung cho cơ sở được trừ trước khi tính"),
    PATIENT_SUPPORT: _("Nguồn hỗ trợ cho người bệnh: trừ vào tự trả, cùng chi trả rồi quỹ BHYT"),
    SUPPORT_CAPPED: _("Nguồn hỗ trợ vượt quá chi phí của dòng: chỉ tính bằng chi phí"),
    ARV_COPAY: _("Thuốc ARV: phần cùng chi trả do nguồn khác chi trả"),
}


def reason_label(code: str) -> str:
    """The Vietnamese label of a reason code (the code itself when unknown)."""
    label = REASONS.get(code)
    return str(label) if label is not None else code
