"""The `transfer` kind's page: start from VGG19 trained on ImageNet. Thin: the logic is
in playground/transfer/services.py."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from playground.forms import TransferForm
from playground.transfer import services
from webapp.jobs import JobRefused
from webapp.tools import earlier_job, refused_on_form


def transfer(request: HttpRequest) -> HttpResponse:
    """Start from VGG19 trained on ImageNet: one mode, or all three side by side
    (`?from=<id>`: "run again" with an earlier transfer run's settings)."""
    form = TransferForm(initial=services.transfer_initial_from(
        earlier_job(request, kind=services.KIND)))  # fmt: skip
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        form = TransferForm(request.POST)
        if form.is_valid():
            try:
                job = services.transfer_create(user=request.user, params=form.job_params())
            except JobRefused as exc:
                status = refused_on_form(form, exc)
            else:
                return redirect(job.get_absolute_url())
        else:
            status = 400
    return render(request, "playground/transfer.html", {"form": form}, status=status)
