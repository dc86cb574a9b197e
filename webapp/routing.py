from django.urls import path

from webapp.consumers import DashboardConsumer, JobConsumer, MyJobsConsumer

websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/", JobConsumer.as_asgi(), name="job_socket"),
    path("ws/my-jobs/", MyJobsConsumer.as_asgi(), name="my_jobs_socket"),
    path("ws/dashboard/", DashboardConsumer.as_asgi(), name="dashboard_socket"),
]
# So that `reverse(name, urlconf="webapp.routing")` names socket paths, as it does pages.
urlpatterns = websocket_urlpatterns
