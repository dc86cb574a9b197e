from django.urls import path

from styletransfer import views

app_name = "styletransfer"
urlpatterns = [
    path("", views.new, name="new"),
    path("estimate.json", views.estimate_json, name="estimate"),
    path("jobs/<uuid:job_id>/compare.json", views.compare_json, name="compare"),
    path("gallery/<slug:name>.png", views.gallery_image, name="gallery"),
    path("jobs/<uuid:job_id>/inputs/<slug:name>.png", views.job_input, name="input"),
]
