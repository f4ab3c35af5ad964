"""Code lists of the clinical record. Codes that a claim needs are the QĐ 130/4750/3176 codes
(domain brief section 3) and are stored as strings, exactly as the claim will carry them."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EncounterKind(models.TextChoices):
    OUTPATIENT = "outpatient", _("Ngoại trú (khám bệnh)")
    INPATIENT = "inpatient", _("Nội trú")


class VisitType(models.TextChoices):
    """MA_LOAI_KCB (QĐ 130, extended by QĐ 1804/2026)."""

    EXAMINATION = "01", _("Khám bệnh")
    OUTPATIENT_TREATMENT = "02", _("Điều trị ngoại trú")
    INPATIENT = "03", _("Điều trị nội trú")
    DAY_INPATIENT = "04", _("Điều trị nội trú ban ngày")
    CHRONIC_EXAM_DRUGS = "05", _("Ngoại trú bệnh mạn tính (khám + thuốc)")
    COMMUNE_STAY = "06", _("Lưu tại trạm y tế xã / phòng khám đa khoa khu vực")
    DRUGS_BY_APPOINTMENT = "07", _("Nhận thuốc theo hẹn (không khám)")
    CHRONIC_SERVICES = "08", _("Ngoại trú bệnh mạn tính (dịch vụ và/hoặc thuốc)")
    INPATIENT_UNDER_4H = "09", _("Nội trú dưới 4 giờ")
    OTHER = "10", _("Khác")


class ArrivalMode(models.TextChoices):
    """How the patient came (drives the route of the benefit engine later)."""

    REGISTERED = "registered", _("Đúng nơi đăng ký KCB ban đầu")
    REFERRAL = "referral", _("Chuyển cơ sở (có giấy chuyển)")
    EMERGENCY = "emergency", _("Cấp cứu")
    SELF_REFERRED = "self_referred", _("Tự đến (không có giấy chuyển)")
    FOLLOW_UP = "follow_up", _("Tái khám theo hẹn")
    TRANSFER_IN = "transfer_in", _("Chuyển đến từ cơ sở khác (nội trú)")


class EncounterStatus(models.TextChoices):
    ARRIVED = "arrived", _("Đã tiếp đón, chờ khám")
    IN_EXAMINATION = "in_examination", _("Đang khám")
    AWAITING_RESULTS = "awaiting_results", _("Chờ kết quả cận lâm sàng")
    CONCLUDED = "concluded", _("Đã kết thúc khám")
    ADMITTED = "admitted", _("Đang điều trị nội trú")
    DISCHARGED = "discharged", _("Đã ra viện")
    CANCELLED = "cancelled", _("Đã huỷ")


# Legal moves of each kind of encounter. Anything else is refused (Encounter.move_to).
ENCOUNTER_TRANSITIONS: dict[str, dict[str, set[str]]] = {
    EncounterKind.OUTPATIENT: {
        EncounterStatus.ARRIVED: {EncounterStatus.IN_EXAMINATION, EncounterStatus.CANCELLED},
        EncounterStatus.IN_EXAMINATION: {
            EncounterStatus.AWAITING_RESULTS,
            EncounterStatus.CONCLUDED,
        },
        EncounterStatus.AWAITING_RESULTS: {
            EncounterStatus.IN_EXAMINATION,
            EncounterStatus.CONCLUDED,
        },
        EncounterStatus.CONCLUDED: set(),
        EncounterStatus.CANCELLED: set(),
    },
    EncounterKind.INPATIENT: {
        EncounterStatus.ADMITTED: {EncounterStatus.DISCHARGED, EncounterStatus.CANCELLED},
        EncounterStatus.DISCHARGED: set(),
        EncounterStatus.CANCELLED: set(),
    },
}


class Conclusion(models.TextChoices):
    """How an outpatient visit ends."""

    HOME = "home", _("Cho về")
    FOLLOW_UP = "follow_up", _("Hẹn tái khám")
    ADMIT = "admit", _("Nhập viện")
    TRANSFER = "transfer", _("Chuyển cơ sở khác")


class TreatmentResult(models.TextChoices):
    """KET_QUA_DTRI (QĐ 130)."""

    CURED = "1", _("Khỏi")
    IMPROVED = "2", _("Đỡ")
    UNCHANGED = "3", _("Không thay đổi")
    WORSE = "4", _("Nặng hơn")
    DIED = "5", _("Tử vong")
    HOPELESS_DISCHARGE = "6", _("Tiên lượng nặng xin về")
    UNDETERMINED = "7", _("Chưa xác định")


class DischargeType(models.TextChoices):
    """MA_LOAI_RV (QĐ 130)."""

    DISCHARGED = "1", _("Ra viện")
    TRANSFERRED_MEDICAL = "2", _("Chuyển viện theo yêu cầu chuyên môn")
    ABSCONDED = "3", _("Trốn viện")
    LEFT_ON_REQUEST = "4", _("Xin ra viện")
    TRANSFERRED_ON_REQUEST = "5", _("Chuyển viện theo yêu cầu người bệnh")


class DiagnosisPhase(models.TextChoices):
    ENCOUNTER = "encounter", _("Chẩn đoán khi khám / điều trị")
    ADMISSION = "admission", _("Chẩn đoán vào viện")
    DISCHARGE = "discharge", _("Chẩn đoán ra viện")


MAX_SECONDARY_DIAGNOSES = 12  # MA_BENH_KT: at most 12 codes


class OrderStatus(models.TextChoices):
    ORDERED = "ordered", _("Đã chỉ định")
    IN_PROGRESS = "in_progress", _("Đang thực hiện")
    RESULTED = "resulted", _("Đã có kết quả")
    CANCELLED = "cancelled", _("Đã huỷ")


ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.ORDERED: {OrderStatus.IN_PROGRESS, OrderStatus.RESULTED, OrderStatus.CANCELLED},
    OrderStatus.IN_PROGRESS: {OrderStatus.RESULTED, OrderStatus.CANCELLED},
    OrderStatus.RESULTED: set(),
    OrderStatus.CANCELLED: set(),
}


class ResultFlag(models.TextChoices):
    LOW = "L", _("Thấp")
    NORMAL = "N", _("Bình thường")
    HIGH = "H", _("Cao")


class PrescriptionStatus(models.TextChoices):
    DRAFT = "draft", _("Đang kê")
    ISSUED = "issued", _("Đã kê")
    CANCELLED = "cancelled", _("Đã huỷ")


class QueueStatus(models.TextChoices):
    WAITING = "waiting", _("Đang chờ")
    CALLED = "called", _("Đã gọi")
    DONE = "done", _("Đã khám")
    LEFT = "left", _("Bỏ về")


class AllergySeverity(models.TextChoices):
    MILD = "mild", _("Nhẹ")
    MODERATE = "moderate", _("Vừa")
    SEVERE = "severe", _("Nặng")
