"""The permission gate and small helpers shared by the clinical pages."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ehealth.core.exceptions import ConcurrentEditError, DomainError
from ehealth.core.permissions import has_perm_at

STALE_MESSAGE = gettext_lazy(
    "Hồ sơ vừa được người khác cập nhật sau khi bạn mở trang. Thay đổi của bạn CHƯA được lưu; "
    "dữ liệu hiện tại đã được tải lại bên dưới. Hãy xem lại rồi lưu lần nữa."
)


def clinic_permission_required(*perms: str):
    """Signed in, working at a facility, and holding one of `perms` there; otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = getattr(request, "active_membership", None)
            if membership is None:
                raise PermissionDenied(_("Tài khoản chưa được phân công tại cơ sở y tế nào."))
            if not any(has_perm_at(request.user, p, membership.facility_id) for p in perms):
                raise PermissionDenied(_("Vai trò của bạn tại cơ sở này không có quyền này."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def facility_of(request):
    return request.active_membership.facility


def can(request, perm: str) -> bool:
    membership = getattr(request, "active_membership", None)
    return bool(membership and has_perm_at(request.user, perm, membership.facility_id))


def is_htmx(request) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


class ServiceCall:
    """Runs one service call for a form: maps its refusals onto the form.

    `ok` is True when the service succeeded; `stale` when the version was stale (the page then
    reloads the current data and keeps what the user typed visible, unsaved).
    """

    def __init__(self, form):
        self.form = form
        self.ok = False
        self.stale = False
        self.result = None
        self.error: ValidationError | None = None

    def __call__(self, func, /, **kwargs):
        try:
            self.result = func(**kwargs)
        except ValidationError as e:
            self.error = e
            self.form.add_service_errors(e)
        except ConcurrentEditError:
            self.stale = True
            self.form.add_error(None, STALE_MESSAGE)
        except PermissionDenied as e:
            self.form.add_error(None, str(e) or _("Bạn không có quyền thực hiện thao tác này."))
        except DomainError as e:
            self.form.add_error(None, str(e))
        else:
            self.ok = True
        return self.result


def hx_redirect(url: str) -> HttpResponse:
    """An htmx answer that makes the browser load `url` (the whole page changes)."""
    response = HttpResponse("")
    response["HX-Redirect"] = url
    return response


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
