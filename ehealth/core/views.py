from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ehealth.core.forms import FacilitySwitchForm, LoginForm
from ehealth.core.middleware import ACTIVE_FACILITY_SESSION_KEY
from ehealth.core.models import Role
from ehealth.core.permissions import has_perm_at
from ehealth.core.selectors import (
    audit_events_by_user,
    audit_events_for_patient,
    audit_subject_user_get,
    audit_subject_users,
    city_facility_aggregates,
    city_totals,
    user_memberships,
)

AUDIT_PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(failure_limit=settings.AXES_FAILURE_LIMIT, **kwargs)


class LogoutView(auth_views.LogoutView):
    pass


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request):
    return render(request, "core/home.html")


@login_required
@require_POST
def facility_switch(request):
    """Work at another facility: only one where the user holds an active role."""
    allowed = {m.facility_id for m in user_memberships(user=request.user)}
    form = FacilitySwitchForm(request.POST, allowed_ids=allowed)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    if not form.is_valid():
        messages.error(request, _("Bạn không làm việc tại cơ sở này."))
        return redirect("home")
    request.session[ACTIVE_FACILITY_SESSION_KEY] = form.cleaned_data["facility_id"]
    return redirect(target or "home")


@login_required
def city_aggregates(request):
    """Counts per facility for city health admins; anyone else is answered 404."""
    aggregates = city_facility_aggregates(user=request.user)
    if aggregates is None:
        raise Http404
    return render(
        request,
        "core/city.html",
        {
            "aggregates": aggregates,
            "totals": city_totals(aggregates),
            "roles": Role.choices,
        },
    )


def _active_facility_id(request) -> int | None:
    membership = getattr(request, "active_membership", None)
    return membership.facility_id if membership else None


def _require_audit_reader(request) -> int:
    facility_id = _active_facility_id(request)
    if not has_perm_at(request.user, "core.view_auditevent", facility_id):
        raise Http404
    return facility_id


@login_required
def audit_patient(request, patient_id: int):
    """The entries about one patient made at the admin's facility, newest first."""
    facility_id = _require_audit_reader(request)
    events = audit_events_for_patient(
        user=request.user, facility_id=facility_id, patient_id=patient_id
    )
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/audit_list.html",
        {"page": page, "patient_id": patient_id, "scope": "patient"},
    )


@login_required
def audit_user(request, user_id: int):
    """The entries made by one member of staff at the admin's facility, newest first."""
    facility_id = _require_audit_reader(request)
    subject = audit_subject_user_get(user=request.user, facility_id=facility_id, subject_id=user_id)
    if subject is None:
        raise Http404
    events = audit_events_by_user(user=request.user, facility_id=facility_id, subject_id=user_id)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/audit_list.html",
        {"page": page, "subject": subject, "scope": "user"},
    )


@login_required
def audit_index(request):
    """Where a unit admin starts: open a trail by patient number or by staff account."""
    facility_id = _require_audit_reader(request)
    staff = audit_subject_users(user=request.user, facility_id=facility_id)
    patient_id = request.GET.get("patient", "").strip()
    if patient_id:
        if patient_id.isdigit() and len(patient_id) < 19:
            return redirect("audit_patient", patient_id=int(patient_id))
        messages.error(request, _("Mã người bệnh phải là một số."))
    return render(request, "core/audit_index.html", {"staff": staff})
