app_name = "patients"
urlpatterns: list = [
    # filled by the registry pages: search, register, summary, merge
]
