from django.urls import path

from playground.explain import views as explain
from playground.teach import views as teach
from playground.train import views as train
from playground.transfer import views as transfer

app_name = "playground"
urlpatterns = [
    path("", train.builder, name="new"),
    path("summary/", train.summary, name="summary"),
    path("presets/<str:name>/", train.preset, name="preset"),
    path("runs/", train.runs, name="runs"),
    path("compare/", train.compare, name="compare"),
    path("runs/<uuid:job_id>/share/", train.share, name="share"),
    path("shared/<str:token>/", train.shared, name="shared"),
    path("shared/<str:token>/views/<int:epoch>.json", train.shared_view, name="shared_view"),
    path("transfer/", transfer.transfer, name="transfer"),
    path("vgg19/gallery/", explain.gallery, name="gallery"),
    path("runs/<uuid:job_id>/predict/", explain.predict, name="predict"),
    path("runs/<uuid:job_id>/explain/", explain.explain, name="explain"),
    path("teach/", teach.teach, name="teach"),
    path("teach/<uuid:job_id>/frame/", teach.teach_frame, name="teach_frame"),
]
