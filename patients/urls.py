from django.urls import path

from patients import views

app_name = "patients"
urlpatterns = [
    path("", views.search, name="search"),
    path("register/", views.register, name="register"),
    path("enroll/", views.enroll, name="enroll"),
    path("communes/", views.communes, name="communes"),
    path("merge/", views.merge, name="merge"),
    path("merges/<int:merge_id>/reverse/", views.merge_reverse, name="merge_reverse"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/share/", views.share, name="share"),
]
