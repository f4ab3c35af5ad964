"""Request context for the audit trail and the active facility of the signed-in member of staff."""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from ehealth.core import context
from ehealth.core.permissions import active_membership

ACTIVE_FACILITY_SESSION_KEY = "active_facility_id"


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = active_membership(user, request.session.get(ACTIVE_FACILITY_SESSION_KEY))
        request.active_membership = membership
        ip = request.META.get("REMOTE_ADDR")
        token = context.set_current(
            context.ActorContext(
                ip_address=ip,
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
                channel="fhir" if request.path.startswith("/fhir/") else "web",
                facility_id=membership.facility_id if membership else None,
                role=membership.role if membership else "",
            )
        )
        try:
            return self.get_response(request)
        finally:
            context.reset(token)


class VietnameseFirstLocaleMiddleware(LocaleMiddleware):
    """Vietnamese unless the user chose another language with the switcher (the language cookie).

    The browser's Accept-Language is ignored: hospital workstations often run an English system,
    and staff should get the Vietnamese pages unless they ask otherwise.
    """

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        languages = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in languages else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
