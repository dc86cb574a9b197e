from django.urls import path

from playground import views

app_name = "playground"
urlpatterns = [
    path("", views.builder, name="new"),
    path("summary/", views.summary, name="summary"),
    path("transfer/", views.transfer, name="transfer"),
    path("vgg19/gallery/", views.gallery, name="gallery"),
    path("teach/", views.teach, name="teach"),
    path("teach/<uuid:job_id>/frame/", views.teach_frame, name="teach_frame"),
    path("presets/<str:name>/", views.preset, name="preset"),
    path("runs/", views.runs, name="runs"),
    path("compare/", views.compare, name="compare"),
    path("runs/<uuid:job_id>/predict/", views.predict, name="predict"),
    path("runs/<uuid:job_id>/explain/", views.explain, name="explain"),
    path("runs/<uuid:job_id>/share/", views.share, name="share"),
    path("shared/<str:token>/", views.shared, name="shared"),
    path("shared/<str:token>/views/<int:epoch>.json", views.shared_view, name="shared_view"),
]
