from django.urls import path

from ehealth.core import views, views_catalogs

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("facility/switch/", views.facility_switch, name="facility_switch"),
    path("city/", views.city_aggregates, name="city"),
    path("catalogs/import/", views_catalogs.catalog_import, name="catalog-import"),
    path("audit/", views.audit_index, name="audit_index"),
    path("audit/patient/<int:patient_id>/", views.audit_patient, name="audit_patient"),
    path("audit/user/<int:user_id>/", views.audit_user, name="audit_user"),
    path("", views.home, name="home"),
]
