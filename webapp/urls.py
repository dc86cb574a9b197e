from django.contrib import admin
from django.urls import include, path

from webapp import views
from webapp.accounts import AdminLoginForm, LoginView

admin.site.login_form = AdminLoginForm  # says "locked out" rather than "wrong password"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>.json", views.job_json, name="job_json"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("jobs/<uuid:job_id>/retry/", views.job_retry_view, name="job_retry"),
    path("jobs/<uuid:job_id>/requeue/", views.job_requeue_view, name="job_requeue"),
    path("jobs/<uuid:job_id>/control/", views.job_control_view, name="job_control"),
    path("jobs/<uuid:job_id>/files/<str:name>", views.job_file, name="job_file"),
    path("staff/dashboard/", views.dashboard, name="dashboard"),
    path("metrics", views.metrics, name="metrics"),
    path("playground/", include("playground.urls")),
    path("style/", include("styletransfer.urls")),
    path("detect/", include("detection.urls")),
    path("learn/", include("learn.urls")),
    path("admin/", admin.site.urls),
]
