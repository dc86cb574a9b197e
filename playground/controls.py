"""The worker's side of the loops' protocol (playground/loop.py): a job's live controls
and its cancel as the commands a training loop obeys. Used by the train, transfer and
teach workers."""

from __future__ import annotations

from typing import Any

from webapp.runner import JobContext


class ControlsBridge:
    """Turns the page's control dict ({"paused", "lr", "stop"}) and cancel into the loops'
    commands (playground/loop.py): the `controls` every playground worker hands its loop."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx, self.lr = ctx, None

    def __call__(self) -> list[dict[str, Any]]:
        if self.ctx.should_stop():
            return [{"command": "stop"}]
        control = self.ctx.controls()
        commands = []
        if control.get("stop"):
            commands.append({"command": "stop"})
        if control.get("paused"):
            commands.append({"command": "pause"})
        lr = control.get("lr")
        if lr is not None and lr != self.lr:
            self.lr = lr
            try:
                commands.append({"command": "set_lr", "lr": float(lr)})
            except (TypeError, ValueError):
                pass
        return commands
