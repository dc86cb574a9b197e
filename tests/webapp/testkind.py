"""A job kind that only the tests register: counts steps, so the lifecycle can be
watched without an engine. Each run appends a line to `params["log"]`, which is how
the tests count executions across processes."""

import json
import time
from pathlib import Path

from webapp.jobkinds import JobKind, register
from webapp.runner import JobContext, JobError


def countdown(ctx: JobContext) -> dict:
    p = ctx.params
    steps, delay = int(p.get("steps", 5)), float(p.get("delay", 0.1))
    if p.get("log"):
        with open(p["log"], "a") as fh:
            fh.write(f"{ctx.worker} attempt {ctx.job.attempts}\n")
    done = 0
    for step in range(1, steps + 1):
        if ctx.should_stop():
            break
        if p.get("fail_unless") and not Path(p["fail_unless"]).exists():
            if step == int(p.get("fail_at", 1)):
                raise JobError(f"Step {step} failed on purpose.")
        time.sleep(delay)
        done = step
        ctx.report(step / steps, metrics={"step": step, "loss": 1.0 / step})
    url = ctx.save_file("summary.json", json.dumps({"steps_done": done}).encode())
    return {"steps_done": done, "files": [{"name": "summary.json", "url": url, "label": "Summary"}]}


register(JobKind(name="countdown", label="Countdown (test)", run=countdown, queue="gpu"))
