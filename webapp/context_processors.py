import functools
import uuid

from django.urls import reverse

from webapp.jobkinds import KINDS
from webapp.models import ACTIVE_STATES

JOB_ACTIONS = ("cancel", "retry", "requeue", "control")


# The course (learn/) starts no job of its own but leads through the tools: first in the bar.
COURSE_LINK = {"label": "Course", "new_url_name": "learn:index"}


def nav_tools(request) -> dict:
    """The tools in the top bar: the course, then every registered job kind that has a
    start page."""
    return {"nav_tools": [COURSE_LINK, *(k for k in KINDS.values() if k.new_url_name)]}


_ANY_ID = uuid.UUID(int=0)


@functools.cache
def _site_urls() -> dict[str, str]:
    def template(name: str, urlconf: str | None = None) -> str:
        return reverse(name, urlconf=urlconf, args=[_ANY_ID]).replace(str(_ANY_ID), "{id}")

    return {
        **{f"job_{action}": template(f"job_{action}") for action in JOB_ACTIONS},
        "job_json": template("job_json"),
        "job_socket": template("job_socket", "webapp.routing"),
        "my_jobs_socket": reverse("my_jobs_socket", urlconf="webapp.routing"),
        "dashboard_socket": reverse("dashboard_socket", urlconf="webapp.routing"),
    }


def studio_site(request) -> dict:
    """What every page's scripts read from `studio-site` (static/webapp/site.js): the
    URLs they call, with `{id}` for a job's id, and the job states that still change."""
    active = [state.value for state in ACTIVE_STATES]
    return {"studio_site": {"urls": _site_urls(), "active_states": active}}
