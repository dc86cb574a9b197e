"""A stylisation that runs out of the job's memory fails with a message the person can act
on, and leaves no result behind (the estimate can be wrong; the ceiling still holds)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from styletransfer.config import StyleConfig
from styletransfer.vgg import VGGFeatures
from styletransfer.worker import paint
from webapp.models import Job, JobStatus
from webapp.runner import JobContext, JobError, memory_ceiling

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_out_of_memory_fails_the_job_with_a_message_and_writes_no_result(stack, make_user):
    job = Job.objects.create(
        user=make_user("big"), kind="stylize", status=JobStatus.RUNNING, params={"preset": "print"}
    )
    ctx = JobContext(job, "this-test")
    torch.manual_seed(0)
    net = VGGFeatures("relu5_1", widths=(8, 16, 16, 32, 32))
    photo = Image.new("RGB", (3000, 2000), (40, 90, 160))
    painting = Image.new("RGB", (64, 64), (200, 40, 30))
    # one whole 3000 px level: its activations alone are far past a 300 MB ceiling
    config = StyleConfig(size=3000, levels=1, steps=2, tile_size=4096, device="cpu")
    with pytest.raises(JobError, match=r"needed more than the .* MB of memory .* at 3000 px"):
        with memory_ceiling(300):
            paint(ctx, config, photo, [painting], net)
    assert ctx.read_file("result.png") is None
