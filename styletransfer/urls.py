from django.urls import path

from styletransfer import views

app_name = "styletransfer"
urlpatterns = [
    path("", views.new, name="new"),
    path("gallery/<slug:name>.png", views.gallery_image, name="gallery"),
    path("jobs/<uuid:job_id>/inputs/<slug:name>.png", views.job_input, name="input"),
]
