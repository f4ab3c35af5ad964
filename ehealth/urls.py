from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("patients/", include("patients.urls")),
    path("clinic/", include("patients.urls_clinical", namespace="clinic")),
    path("cashier/", include("billing.urls", namespace="cashier")),
    path("claims/", include("insurance.urls", namespace="claims")),
    path("", include("fhir_api.urls")),  # /fhir/R4/ and the OAuth2 token endpoint /o/
    path("", include("ehealth.core.urls")),
]
