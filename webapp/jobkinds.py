"""The registry of job kinds: what each app runs in the worker and how its page looks.

Every kind shares one lifecycle (webapp.jobs, webapp.runner); a kind only supplies the
function that does the work. Apps register their kind when Django starts
(`AppConfig.ready`), so the web server and the workers know the same kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webapp.runner import JobContext


@dataclass(frozen=True)
class JobKind:
    name: str  # stored in Job.kind, e.g. "stylize"
    label: str  # shown to people, e.g. "Style transfer"
    run: Callable[[JobContext], dict[str, Any]]  # does the work; returns Job.result
    blurb: str = ""  # one sentence for the home page
    queue: str = "gpu"  # Celery queue: "gpu" for engine work
    template: str = "webapp/job_detail.html"  # the job page for this kind
    new_url_name: str = ""  # URL name of the form that starts one, for "run again"


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None
