"""The playground's transfer, explain and teach jobs were `train` jobs told apart by a
params key; each is its own kind now (playground/apps.py). This gives the old rows their
kind, and explain jobs the {"tool", "run", <tool>: settings} params the explain kind reads."""

from django.db import migrations

# Written out here, not imported: a migration keeps working when the code moves on.
TRAIN, TRANSFER, EXPLAIN, TEACH = "train", "transfer", "explain", "teach"


def explain_params(params: dict) -> dict:
    """The explain kind's params from an old train job's "explain" or "gallery" key."""
    rest = {k: v for k, v in params.items() if k not in ("explain", "gallery")}
    if "gallery" in params:
        return {**rest, "tool": "gallery", "gallery": params["gallery"]}
    e = dict(params["explain"])
    run = e.pop("run", None)
    if e.get("cell"):
        return {**rest, "tool": "cell", "run": run, "cell": {"cell": e["cell"]}}
    if e.get("unit"):
        return {**rest, "tool": "unit", "run": run, "unit": e["unit"]}
    return {**rest, "tool": "gradcam", "run": run,
            "gradcam": {"target": e.get("target"), "name": e.get("name", "")}}


def old_explain_params(params: dict) -> dict:
    """The reverse: an explain job's params as the train kind's explain mode had them."""
    tool = params.get("tool")
    rest = {k: v for k, v in params.items() if k not in ("tool", "run", tool)}
    if tool == "gallery":
        return {**rest, "gallery": params["gallery"]}
    settings = params.get(tool) or {}
    e = {"run": params.get("run")}
    if tool == "cell":
        e["cell"] = settings.get("cell")
    elif tool == "unit":
        e["unit"] = settings
    else:
        e.update(target=settings.get("target"), name=settings.get("name", ""))
    return {**rest, "explain": e}


def forwards(apps, schema_editor):
    Job = apps.get_model("webapp", "Job")
    for job in Job.objects.filter(kind=TRAIN).iterator():
        p = job.params or {}
        if p.get("transfer"):
            job.kind = TRANSFER
        elif p.get("teach"):
            job.kind = TEACH
        elif p.get("explain") or p.get("gallery"):
            job.kind, job.params = EXPLAIN, explain_params(p)
        else:
            continue
        job.save(update_fields=["kind", "params"])


def backwards(apps, schema_editor):
    Job = apps.get_model("webapp", "Job")
    for job in Job.objects.filter(kind__in=[TRANSFER, TEACH, EXPLAIN]).iterator():
        if job.kind == EXPLAIN:
            job.params = old_explain_params(job.params or {})
        job.kind = TRAIN
        job.save(update_fields=["kind", "params"])


class Migration(migrations.Migration):
    dependencies = [("webapp", "0004_operator_console")]

    operations = [migrations.RunPython(forwards, backwards)]
