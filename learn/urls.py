from django.urls import path

from learn import views

app_name = "learn"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.lesson, name="lesson"),
    path("<slug:slug>/observed.json", views.observed, name="observed"),
    path("<slug:slug>/run/", views.run, name="run"),
    path("<slug:slug>/answer/", views.answer, name="answer"),
    path("<slug:slug>/done/", views.done, name="done"),
]
