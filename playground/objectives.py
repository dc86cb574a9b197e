"""What a net learns beyond "which class": the task picks the head, the loss, the
metrics and the pictures of the live view. The training loop (trainer.py) is the same for
every task; it asks the task for these.

    classify   K class scores           L = CE(scores, class)
    localise   K scores + a box         L = CE(scores, class) + λ·¼·Σ(b̂ − b)²
               b = (centre x, centre y, width, height) as fractions of the picture side
    landmarks  x, y of k points         L = 1/(2k)·Σ(p̂ − p)², coordinates as fractions
    segment    K scores per pixel       L = mean over pixels of CE(scores(pixel), class)
    verify     an embedding f(x), |f| = 1
               triplet: L = mean over (A, P, N) with a positive loss of
                        max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0)
                        (or batch-hard: per anchor, its farthest P and nearest N)
               pair:    ŷ = σ(b − Σ softplus(w)·|f(a) − f(b)|),  L = balanced BCE(ŷ, same)

Targets are one tensor per picture so that a batch is `y[idx]` for every task: a class
(classify, verify), [class, x0, y0, x1, y1] in pixels (localise), [x1, y1, x2, y2, ...]
in pixels (landmarks), an H×W map of classes (segment).

Each task also reports an "accuracy" (the curve every run draws) and one headline
metric per epoch (`val_metric`, its name in `metric`): class and IoU ≥ 0.5 / mean IoU
(localise), points within 2 px / mean point error in pixels (landmarks), pixel accuracy /
mean IoU over classes (segment), pair accuracy on held-out classes / ROC AUC (verify).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from playground.liveview import picture_url, png_data_url
from playground.loop import evaluate
from playground.taskcatalogue import (
    BOX_WEIGHT,
    EMBEDDING_SIZE,
    POINT_TOLERANCE_PX,
    TASKS,
    TRIPLET_MINING,
    VERIFY_LOSSES,
)

ZOOM = 3  # live-view pictures are drawn this many times larger, so boxes and points show
PALETTE = [
    (30, 30, 30),
    (230, 90, 60),
    (60, 160, 230),
    (250, 200, 40),
    (120, 200, 90),
    (200, 100, 220),
    (90, 220, 210),
    (240, 140, 180),
]
TRUTH, GUESS = (60, 220, 120), (255, 80, 80)


@dataclass
class Evaluation:
    loss: float
    accuracy: float
    metric: float  # the task's headline metric (see the module docstring)
    details: dict[str, Any] = field(default_factory=dict)  # what the epoch's pictures need


class Task:
    """Classification: the default, and the interface the other tasks fill in."""

    name = "classify"
    head = "classifier"
    metric = "accuracy"
    higher_is_better = True

    def outputs(self, classes: list[str]) -> int:
        """The head's width for a dataset with these class (or point) names."""
        return len(classes)

    def setup(self, model: nn.Module, data: Any) -> None:
        """Called once before training, with the model and the dataset."""

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch's accuracy summed over its pictures (stays on the device)."""
        return (out.argmax(dim=1) == y).sum().float()

    def forward_all(self, model: nn.Module, x: torch.Tensor, batch_size: int = 512):
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            out = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        model.train(was_training)
        return out

    def evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Evaluation:
        loss, accuracy, predicted, confidence = evaluate(model, x, y)
        return Evaluation(
            loss, accuracy, accuracy, {"predicted": predicted, "confidence": confidence}
        )

    def task_event(self, epoch: int, classes: list[str], ev: Evaluation, **parts) -> dict:
        """A task's live-view event: its metric at this epoch, then its own parts."""
        return {"type": "task", "task": self.name, "epoch": epoch, "classes": classes,
                "metric": self.metric, "value": round(ev.metric, 4), **parts}  # fmt: skip

    def epoch_events(self, epoch: int, classes: list[str], x, y, ev: Evaluation, shown: int):
        """The live view's per-epoch events: the confusion matrix and sample predictions."""
        k, predicted = len(classes), ev.details["predicted"]
        matrix = torch.bincount(y * k + predicted, minlength=k * k).reshape(k, k)
        items = [
            {
                "image": picture_url(x[j]),
                "label": int(y[j]),
                "predicted": int(predicted[j]),
                "confidence": round(float(ev.details["confidence"][j]), 4),
            }
            for j in range(min(shown, len(y)))
        ]
        return [
            {"type": "confusion", "epoch": epoch, "classes": classes, "matrix": matrix.tolist()},
            {"type": "samples", "epoch": epoch, "items": items},
        ]


# ---------------------------------------------------------------------------------------
# drawing for the live view


def _zoomed(x: torch.Tensor) -> Image.Image:
    """One picture (C, H, W) in [0, 1] as an RGB image ZOOM times larger."""
    array = (x.detach().float().cpu().clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    array = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array[:3]
    image = Image.fromarray(array.transpose(1, 2, 0))
    return image.resize((image.width * ZOOM, image.height * ZOOM), Image.NEAREST)


def _url(image: Image.Image) -> str:
    return png_data_url(np.asarray(image))


def _rect(draw: ImageDraw.ImageDraw, box, colour) -> None:
    x0, y0, x1, y1 = (v * ZOOM for v in box)
    draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=colour, width=2)


def _point(draw: ImageDraw.ImageDraw, xy, colour, cross: bool) -> None:
    x, y = xy[0] * ZOOM, xy[1] * ZOOM
    if cross:
        draw.line([x - 4, y - 4, x + 4, y + 4], fill=colour, width=2)
        draw.line([x - 4, y + 4, x + 4, y - 4], fill=colour, width=2)
    else:
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=colour, width=2)


def mask_url(mask: torch.Tensor) -> str:
    """An H×W map of classes as a colour picture, ZOOM times larger."""
    colours = np.array(PALETTE, dtype=np.uint8)
    pixels = colours[mask.cpu().numpy() % len(PALETTE)]
    return png_data_url(pixels.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1))


# ---------------------------------------------------------------------------------------
# localise


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of matching boxes (N, 4) given as x0, y0, x1, y1."""
    w = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp_min(0)
    h = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp_min(0)
    inter = w * h
    area = lambda r: (r[:, 2] - r[:, 0]).clamp_min(0) * (r[:, 3] - r[:, 1]).clamp_min(0)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp_min(1e-9)


class Localise(Task):
    name, head, metric = "localise", "box", "mean IoU"

    def __init__(self, side: int):
        self.side = side  # pixels: boxes are learnt as fractions of it

    def outputs(self, classes: list[str]) -> int:
        return len(classes) + 4

    def _boxes(self, y: torch.Tensor) -> torch.Tensor:
        """[x0, y0, x1, y1] in pixels -> [cx, cy, w, h] as fractions of the side."""
        x0, y0, x1, y1 = y[:, 1:5].unbind(1)
        return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], 1) / self.side

    def corners(self, out: torch.Tensor) -> torch.Tensor:
        """The predicted box in pixels, x0, y0, x1, y1."""
        cx, cy, w, h = (out[:, -4:] * self.side).unbind(1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(out[:, :-4], y[:, 0].long())
        return ce + BOX_WEIGHT * F.mse_loss(out[:, -4:], self._boxes(y))

    def _scores(self, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        iou = box_iou(self.corners(out), y[:, 1:5])
        right = out[:, :-4].argmax(dim=1) == y[:, 0].long()
        return iou, right & (iou >= 0.5)

    def correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._scores(out, y)[1].sum().float()

    def evaluate(self, model, x, y) -> Evaluation:
        out = self.forward_all(model, x)
        iou, hit = self._scores(out, y)
        return Evaluation(
            self.loss(out, y).item(),
            hit.float().mean().item(),
            iou.mean().item(),
            {"out": out, "iou": iou},
        )

    def epoch_events(self, epoch, classes, x, y, ev, shown):
        out, iou = ev.details["out"], ev.details["iou"]
        boxes, predicted = self.corners(out), out[:, :-4].argmax(dim=1)
        items = []
        for j in range(min(shown, len(y))):
            image = _zoomed(x[j])
            draw = ImageDraw.Draw(image)
            _rect(draw, y[j, 1:5].tolist(), TRUTH)
            _rect(draw, boxes[j].tolist(), GUESS)
            items.append(
                {
                    "image": _url(image),
                    "label": int(y[j, 0]),
                    "predicted": int(predicted[j]),
                    "iou": round(float(iou[j]), 3),
                }
            )
        return [self.task_event(epoch, classes, ev, items=items)]


# ---------------------------------------------------------------------------------------
# landmarks


class Landmarks(Task):
    name, head, metric, higher_is_better = "landmarks", "points", "mean point error (px)", False

    def __init__(self, side: int):
        self.side = side

    def outputs(self, classes: list[str]) -> int:
        return 2 * len(classes)  # classes name the points: x and y of each

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out, y / self.side)

    def errors(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(N, k) distance in pixels between each predicted point and the true one."""
        diff = (out * self.side - y).reshape(len(y), -1, 2)
        return diff.norm(dim=2)

    def correct(self, out, y) -> torch.Tensor:
        return (self.errors(out, y) <= POINT_TOLERANCE_PX).float().mean(dim=1).sum()

    def evaluate(self, model, x, y) -> Evaluation:
        out = self.forward_all(model, x)
        errors = self.errors(out, y)
        within = (errors <= POINT_TOLERANCE_PX).float().mean().item()
        return Evaluation(
            self.loss(out, y).item(), within, errors.mean().item(), {"out": out, "errors": errors}
        )

    def epoch_events(self, epoch, classes, x, y, ev, shown):
        out, errors = ev.details["out"] * self.side, ev.details["errors"]
        items = []
        for j in range(min(shown, len(y))):
            image = _zoomed(x[j])
            draw = ImageDraw.Draw(image)
            truth, guess = y[j].reshape(-1, 2).tolist(), out[j].reshape(-1, 2).tolist()
            for t, g in zip(truth, guess, strict=True):
                _point(draw, t, TRUTH, cross=False)
                _point(draw, g, GUESS, cross=True)
            items.append({"image": _url(image), "error": round(float(errors[j].mean()), 3)})
        per_point = [round(float(v), 3) for v in errors.mean(dim=0)]
        return [self.task_event(epoch, classes, ev, per_point=per_point, items=items)]


# ---------------------------------------------------------------------------------------
# segment


def class_ious(confusion: torch.Tensor) -> list[float | None]:
    """IoU of each class from a K×K pixel confusion matrix (rows: truth); None for a class
    neither present nor predicted."""
    tp = confusion.diag().double()
    union = confusion.sum(0).double() + confusion.sum(1).double() - tp
    return [float(t / u) if u > 0 else None for t, u in zip(tp, union, strict=True)]


class Segment(Task):
    name, head, metric = "segment", "mask", "mean IoU"

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)  # (B, K, H, W) scores against (B, H, W) classes

    def correct(self, out, y) -> torch.Tensor:
        # a pixel is right when its true class scores highest; comparing with the maximum
        # costs a fortieth of an argmax over the class dimension on a CPU (every step pays it)
        right = out.gather(1, y[:, None]) >= out.amax(dim=1, keepdim=True)  # (B, 1, H, W)
        return right.float().mean(dim=(1, 2, 3)).sum()

    def evaluate(self, model, x, y) -> Evaluation:
        out = self.forward_all(model, x, batch_size=128)
        predicted = out.max(dim=1).indices  # (N, H, W); faster than argmax on a CPU
        k = out.shape[1]
        confusion = torch.bincount((y * k + predicted).flatten(), minlength=k * k).reshape(k, k)
        ious = class_ious(confusion)
        present = [v for v in ious if v is not None]
        return Evaluation(
            F.cross_entropy(out, y).item(),
            (predicted == y).float().mean().item(),
            sum(present) / len(present),
            {"predicted": predicted, "ious": ious},
        )

    def epoch_events(self, epoch, classes, x, y, ev, shown):
        predicted = ev.details["predicted"]
        items = []
        for j in range(min(shown, len(y))):
            right = (predicted[j] == y[j]).float().mean().item()
            items.append(
                {
                    "image": _url(_zoomed(x[j])),
                    "truth": mask_url(y[j]),
                    "predicted": mask_url(predicted[j]),
                    "pixel_accuracy": round(right, 3),
                }
            )
        ious = [None if v is None else round(v, 4) for v in ev.details["ious"]]
        colours = [
            "#{:02x}{:02x}{:02x}".format(*PALETTE[i % len(PALETTE)]) for i in range(len(classes))
        ]
        return [self.task_event(epoch, classes, ev, colours=colours, class_iou=ious, items=items)]


# ---------------------------------------------------------------------------------------
# verify


def pairwise_sq_distances(e: torch.Tensor) -> torch.Tensor:
    """(N, N) squared Euclidean distances between the rows of e."""
    return (e[:, None, :] - e[None, :, :]).pow(2).sum(dim=2)


def triplet_loss(
    e: torch.Tensor, labels: torch.Tensor, margin: float, mining: str = "all"
) -> torch.Tensor:
    """mining "all": every valid (anchor, positive, negative) of the batch; the mean over
    those whose loss is positive (the easy ones, already apart by the margin, teach
    nothing). mining "hard" (batch-hard, Hermans et al. 2017): one triplet per anchor, its
    farthest positive and its nearest negative, the mean over every anchor that has both."""
    if mining not in TRIPLET_MINING:
        raise ValueError(f"triplet mining is {' or '.join(TRIPLET_MINING)}")
    d = pairwise_sq_distances(e)  # (B, B)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=e.device)
    positive, negative = same & ~eye, ~same
    if mining == "hard":
        farthest = d.masked_fill(~positive, float("-inf")).amax(dim=1)
        nearest = d.masked_fill(~negative, float("inf")).amin(dim=1)
        anchors = positive.any(dim=1) & negative.any(dim=1)
        if not anchors.any():
            return d.sum() * 0  # keeps the graph: a zero gradient
        return (farthest - nearest + margin)[anchors].clamp_min(0).mean()
    valid = positive[:, :, None] & negative[:, None, :]  # (A, P, N)
    losses = (d[:, :, None] - d[:, None, :] + margin).clamp_min(0)[valid]
    active = losses > 0
    if not active.any():
        return losses.sum() * 0  # keeps the graph: a zero gradient
    return losses[active].mean()


def pair_logit(pair: nn.Linear, difference: torch.Tensor) -> torch.Tensor:
    """σ of this is the pair classifier's "same": b − Σ softplus(w_k)·|f(a) − f(b)|_k. The
    weights are kept positive so that a larger difference never means "more alike" – an
    unconstrained w learns quirks of the trained classes that unseen ones do not share."""
    return pair.bias - (difference * F.softplus(pair.weight[0])).sum(dim=-1)


def pair_logits(head: nn.Module, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair classifier's logit for every pair i < j of the batch, and the pairs."""
    i, j = torch.triu_indices(len(e), len(e), offset=1, device=e.device)
    return pair_logit(head.pair, (e[i] - e[j]).abs()), torch.stack([i, j])


class Verify(Task):
    """Trained on some classes, judged on classes it never saw (held out in `val`)."""

    name, metric = "verify", "ROC AUC (held-out classes)"

    def __init__(self, loss: str = "triplet", margin: float = 0.2, mining: str = "all"):
        if loss not in VERIFY_LOSSES:
            raise ValueError(f"the verification loss is {' or '.join(VERIFY_LOSSES)}")
        if mining not in TRIPLET_MINING:
            raise ValueError(f"triplet mining is {' or '.join(TRIPLET_MINING)}")
        self.kind, self.margin, self.mining = loss, margin, mining
        self.head = "embedding" if loss == "triplet" else "siamese"
        self.model: nn.Module | None = None  # the pair loss needs the head's pair classifier
        self.reference: tuple[torch.Tensor, torch.Tensor] | None = None

    def outputs(self, classes: list[str]) -> int:
        return EMBEDDING_SIZE

    def setup(self, model: nn.Module, data: Any) -> None:
        self.model = model
        # pictures of the trained classes that fix the threshold (the held-out ones never do)
        self.reference = (data.train_x[:400], data.train_y[:400])

    def loss(self, out, y) -> torch.Tensor:
        if self.kind == "triplet":
            return triplet_loss(out, y, self.margin, self.mining)
        logits, (i, j) = pair_logits(self.model.head, out)
        same = (y[i] == y[j]).float()
        # positives are rare in a batch: weigh both sides equally
        n_same = same.sum().clamp_min(1)
        weight = torch.where(same > 0, 0.5 / n_same, 0.5 / (len(same) - n_same).clamp_min(1))
        return (F.binary_cross_entropy_with_logits(logits, same, reduction="none") * weight).sum()

    def correct(self, out, y) -> torch.Tensor:
        if self.kind == "triplet":  # triplets already in the right order: d(A, P) < d(A, N)
            d = pairwise_sq_distances(out)
            same = y[:, None] == y[None, :]
            eye = torch.eye(len(y), dtype=torch.bool, device=out.device)
            valid = (same & ~eye)[:, :, None] & ~same[:, None, :]
            ordered = (d[:, :, None] < d[:, None, :])[valid]
            share = ordered.float().mean() if len(ordered) else torch.ones((), device=out.device)
        else:
            logits, (i, j) = pair_logits(self.model.head, out)
            same = y[i] == y[j]
            right = (logits > 0) == same
            share = 0.5 * (
                right[same].float().mean().nan_to_num(1.0)
                + right[~same].float().mean().nan_to_num(1.0)
            )
        return share * len(y)

    def dissimilarity(self, e: torch.Tensor) -> torch.Tensor:
        """(N, N): higher means "less likely the same class" (distance, or the pair
        classifier's −logit)."""
        if self.kind == "triplet":
            return pairwise_sq_distances(e)
        return -pair_logit(self.model.head.pair, (e[:, None, :] - e[None, :, :]).abs())

    def evaluate(self, model, x, y) -> Evaluation:
        """Pair accuracy on the held-out classes (x, y) at the threshold that is best on
        pictures of the trained classes (see setup), with the ROC and the projections."""
        from sklearn.metrics import roc_auc_score, roc_curve

        self.model = model
        e = self.forward_all(model, x)
        with torch.inference_mode():
            val_loss = float(
                np.mean(
                    [
                        self.loss(e[i : i + 128], y[i : i + 128]).item()
                        for i in range(0, len(y), 128)
                    ]
                )
            )
            scores, same = self._pairs(e, y)
            ref_x, ref_y = self.reference if self.reference is not None else (x, y)
            ref_x, ref_y = ref_x.to(x.device), ref_y.to(x.device)
            ref_e = self.forward_all(model, ref_x)
            ref_scores, ref_same = self._pairs(ref_e, ref_y)
        threshold = best_threshold(ref_scores, ref_same)
        accuracy = balanced_accuracy(scores, same, threshold)
        fpr, tpr, _ = roc_curve(same, -scores)
        auc = float(roc_auc_score(same, -scores))
        keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 60)).round().astype(int))
        return Evaluation(
            val_loss,
            accuracy,
            auc,
            {
                "e": e,
                "ref_e": ref_e,
                "ref_y": ref_y,
                "scores": scores,
                "same": same,
                "threshold": threshold,
                "roc": [[round(float(fpr[k]), 4), round(float(tpr[k]), 4)] for k in keep],
            },
        )

    def _pairs(self, e: torch.Tensor, y: torch.Tensor, limit: int = 400):
        """Dissimilarities and same/different of every pair among the first `limit` pictures."""
        e, y = e[:limit], y[:limit]
        i, j = torch.triu_indices(len(e), len(e), offset=1)
        d = self.dissimilarity(e)[i, j]
        return d.float().cpu().numpy(), (y[i] == y[j]).cpu().numpy()

    def epoch_events(self, epoch, classes, x, y, ev, shown):
        d = ev.details
        points = projection(torch.cat([d["ref_e"][:300], d["e"][:300]]))
        labels = torch.cat([d["ref_y"][:300], y[:300]]).tolist()
        held = [False] * len(d["ref_e"][:300]) + [True] * len(d["e"][:300])
        scores, same = d["scores"], d["same"]
        edges = np.linspace(float(scores.min()), float(scores.max()) + 1e-6, 25)
        gallery = one_shot_gallery(y, per_class=max(2, shown // max(1, len(set(y.tolist())))))
        with torch.inference_mode():
            matrix = self.dissimilarity(d["e"][gallery]).float().cpu()
        return [
            self.task_event(
                epoch,
                classes,
                ev,
                pair_accuracy=round(ev.accuracy, 4),
                threshold=round(d["threshold"], 4),
                distance="squared distance" if self.kind == "triplet" else "−pair logit",
                projection=[
                    [round(p[0], 3), round(p[1], 3), int(c), h]
                    for p, c, h in zip(points.tolist(), labels, held, strict=True)
                ],
                histogram={
                    "edges": [round(float(v), 4) for v in edges],
                    "same": np.histogram(scores[same], edges)[0].tolist(),
                    "different": np.histogram(scores[~same], edges)[0].tolist(),
                },
                roc=d["roc"],
                gallery=[{"image": picture_url(x[k]), "label": int(y[k])} for k in gallery],
                gallery_scores=[[round(float(v), 4) for v in row] for row in matrix],
            )
        ]


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The dissimilarity below which a pair is called "same" that gives the best balanced
    accuracy on these pairs."""
    candidates = np.unique(scores)
    if len(candidates) > 400:
        candidates = np.quantile(scores, np.linspace(0, 1, 401))
    best = max(candidates, key=lambda t: balanced_accuracy(scores, same, float(t)))
    return float(best)


def balanced_accuracy(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Mean of the share of same pairs called same and different pairs called different."""
    called = scores <= threshold
    parts = [
        called[same].mean() if same.any() else 1.0,
        (~called[~same]).mean() if (~same).any() else 1.0,
    ]
    return float(np.mean(parts))


def projection(e: torch.Tensor) -> torch.Tensor:
    """The embeddings on their two main directions (PCA), signs fixed so that the picture
    does not flip between epochs: each axis points to where most of the mass lies."""
    centred = e.float() - e.float().mean(dim=0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    points = centred @ v[:2].T  # (N, 2)
    signs = torch.sign((points**3).sum(dim=0)).clamp_min(0) * 2 - 1
    return points * signs


def one_shot_gallery(y: torch.Tensor, per_class: int) -> list[int]:
    """Indices of the first `per_class` pictures of each class, class by class."""
    chosen: list[int] = []
    for c in sorted(set(y.tolist())):
        chosen += (y == c).nonzero().flatten()[:per_class].tolist()
    return chosen


# ---------------------------------------------------------------------------------------


# The task registry's torch side: one entry per task, each building its Task from the
# run's settings (the web side's half, without torch, is playground/taskcatalogue.py).
TASK_TYPES: dict[str, Callable[..., Task]] = {
    "classify": lambda *, side, loss, margin, mining: Task(),
    "localise": lambda *, side, loss, margin, mining: Localise(side),
    "landmarks": lambda *, side, loss, margin, mining: Landmarks(side),
    "segment": lambda *, side, loss, margin, mining: Segment(),
    "verify": lambda *, side, loss, margin, mining: Verify(loss, margin, mining),
}


def task_make(
    name: str, *, side: int = 32, loss: str = "triplet", margin: float = 0.2, mining: str = "all"
) -> Task:
    """The task by name; `side` is the pictures' side in pixels; `loss`, `margin` and
    `mining` (the triplet loss's: "all" or "hard") are verification's."""
    if name not in TASK_TYPES:
        raise ValueError(f"unknown task {name[:20]!r}; known: {', '.join(TASKS)}")
    return TASK_TYPES[name](side=side, loss=loss, margin=margin, mining=mining)
