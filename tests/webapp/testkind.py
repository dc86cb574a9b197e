"""A job kind that only the tests register: counts steps, so the lifecycle can be
watched without an engine. Each run appends a line to `params["log"]`, which is how
the tests count executions across processes."""

import json
import time
from pathlib import Path

from webapp.jobkinds import Budget, JobCost, JobKind, register
from webapp.runner import JobContext, JobError, JobPaused

# In a crash's message and traceback only: a test looks for it wherever the owner reads.
SECRET_DETAIL = "7f3a-internal-state"


def countdown(ctx: JobContext) -> dict:
    p = ctx.params
    steps, delay = int(p.get("steps", 5)), float(p.get("delay", 0.1))
    if p.get("log"):
        with open(p["log"], "a") as fh:
            fh.write(f"{ctx.worker} attempt {ctx.job.attempts} at {time.time():.3f}\n")
    if p.get("allocate_mb"):  # reserve (never touch) this much: the memory ceiling's test
        import numpy as np

        np.empty(int(p["allocate_mb"]) * 2**20, dtype=np.uint8)
    done = 0
    checkpoint = ctx.read_file("checkpoint.json") if ctx.job.result.get("paused") else None
    if checkpoint is not None:  # resumed: go on after the last step done
        done = json.loads(checkpoint)["steps_done"]
    resumed_from = done
    for step in range(done + 1, steps + 1):
        if ctx.should_stop():
            break
        if ctx.controls().get("paused"):
            url = ctx.save_file("checkpoint.json", json.dumps({"steps_done": done}).encode())
            raise JobPaused(
                {
                    "paused": True,
                    "steps_done": done,
                    "files": [{"name": "checkpoint.json", "url": url, "label": "Checkpoint"}],
                }
            )
        if p.get("crash_at") == step:  # a bug, not the user's fault: staff get the details
            raise ValueError(f"the hidden detail {SECRET_DETAIL} at step {step}")
        if p.get("fail_unless") and not Path(p["fail_unless"]).exists():
            if step == int(p.get("fail_at", 1)):
                raise JobError(f"Step {step} failed on purpose.")
        time.sleep(delay)
        done = step
        ctx.report(step / steps, metrics={"step": step, "loss": 1.0 / step})
    url = ctx.save_file("summary.json", json.dumps({"steps_done": done}).encode())
    return {
        "steps_done": done,
        "resumed_from": resumed_from,
        "files": [{"name": "summary.json", "url": url, "label": "Summary"}],
    }


def estimate(params: dict, budget: Budget) -> JobCost:
    """Declared cost, so tests can ask for a job over the budget."""
    memory = float(params.get("memory_mb", 1))
    return JobCost(
        memory_mb=memory,
        runtime_s=float(params.get("runtime_s", 1)),
        lower={"memory": f"lower memory_mb to {budget.memory_mb:g}"},
    )


register(
    JobKind(
        name="countdown",
        label="Countdown (test)",
        run="tests.webapp.testkind:countdown",
        queue="gpu",
        estimate=estimate,
        can_yield=True,  # it pauses from a checkpoint: fair share may make it yield
    )
)
# The same work, declared unable to yield: fair share must leave it alone (were it asked,
# its pause path would yield all the same, so the test of that can fail).
register(
    JobKind(
        name="countdown-steadfast",
        label="Countdown that never yields (test)",
        run="tests.webapp.testkind:countdown",
        queue="gpu",
        estimate=estimate,
    )
)
# The same work on a queue no worker listens to: its jobs stay queued (limit tests).
register(
    JobKind(
        name="countdown-parked",
        label="Countdown, never run (test)",
        run="tests.webapp.testkind:countdown",
        queue="parked",
        estimate=estimate,
    )
)
