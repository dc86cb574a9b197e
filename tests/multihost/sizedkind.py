"""The tests' countdown on a ladder of queues by size ("sized", then "sized-large"), which
only the capacity test's own workers consume: registered by the test process and, through
STUDIO_EXTRA_JOB_KINDS, by those workers."""

from tests.webapp import testkind
from webapp.jobkinds import JobKind, register

QUEUES = ["sized", "sized-large"]

register(
    JobKind(
        name="countdown-sized",
        label="Countdown by size (test)",
        run="tests.webapp.testkind:countdown",
        queue=QUEUES[0],
        estimate=testkind.estimate,
    )
)
