"""URLs of the benchmark's server: the product's, plus a bare Django view for comparison."""

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, JsonResponse
from django.urls import include, path

from patients.models import Patient

_FIELDS = [f.attname for f in Patient._meta.concrete_fields]


def bare_patient(request, pk: int):
    """The Patient row by id through the ORM, as JSON: no authentication, audit or mapping."""
    patient = Patient.objects.filter(pk=pk).first()
    if patient is None:
        raise Http404
    return JsonResponse({f: getattr(patient, f) for f in _FIELDS}, encoder=DjangoJSONEncoder)


# After the product's URLs: the bare view is resolved through them all, as a FHIR URL is.
urlpatterns = [
    path("", include("ehealth.urls")),
    path("bench/bare/patient/<int:pk>", bare_patient),
]
