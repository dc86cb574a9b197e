"""What the builder offers for each task, without torch (the web process reads it): the
tasks and what their heads and losses are, their built-in datasets, their preset nets.
The losses themselves are in playground/objectives.py, the datasets in playground/scenes.py.
"""

from __future__ import annotations

TASKS = ("classify", "localise", "landmarks", "segment", "verify")
BOX_WEIGHT = 5.0  # λ: the box's squared error next to the class's cross-entropy
POINT_TOLERANCE_PX = 2.0  # a landmark within this many pixels counts as found
EMBEDDING_SIZE = 32
VERIFY_LOSSES = ("triplet", "pair")
TRIPLET_MINING = ("all", "hard")  # every valid triplet, or batch-hard: one per anchor

# name -> (task, description): the datasets of each task beyond classification
SCENES = {
    "boxes": ("localise", "32×32: one shape on clutter, with its box"),
    "faces": ("landmarks", "32×32 drawn faces on clutter: eyes and mouth as 3 points"),
    "overlaps": ("segment", "32×32: 2–4 overlapping shapes, a class for every pixel"),
    "digits_heldout": ("verify", "8×8 digits: trained on 0–6, verified on unseen 7, 8, 9"),
    "mnist5k_heldout": ("verify", "28×28 MNIST digits: trained on 0–6, verified on 7, 8, 9"),
}
# The data each task trains on: "folders" – pictures of classes (the built-in picture
# sets, or a zip with one folder per class; playground/datasets.py) – or "scenes" – its
# SCENES above, or a zip of pictures with their labels (playground/scenes.py).
TASK_DATA = {"classify": "folders", "localise": "scenes", "landmarks": "scenes",
             "segment": "scenes", "verify": "scenes"}  # fmt: skip


def task_scenes(task: str) -> list[str]:
    """The built-in datasets made for `task` (none for a task that trains on folders)."""
    return [name for name, (t, _) in SCENES.items() if t == task]


def task_title(task: str, title: str) -> str:
    """A run's title, led by its task where that is not classification (the default)."""
    return title if TASK_DATA[task] == "folders" else f"{task}: {title}"


# (C, H, W) and classes (or points) of each, for the builder's table without loading
SCENE_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "boxes": ((1, 32, 32), 4),
    "faces": ((1, 32, 32), 3),
    "overlaps": ((1, 32, 32), 4),
    "digits_heldout": ((1, 8, 8), 10),
    "mnist5k_heldout": ((1, 28, 28), 10),
}

# The explain kind's tools (playground/explain/), and which of them each task's nets can
# answer: they need class scores (and, for a cell or a unit, the run's validation pictures
# as a classifier splits them). The run page offers only these; the form refuses others.
EXPLAIN_TOOLS = {
    "predict": "Try it on a picture",
    "gradcam": "Why this prediction?",
    "cell": "A confusion-matrix cell",
    "unit": "What does a unit respond to?",
}
TASK_EXPLAIN = {"classify": ("predict", "gradcam", "cell", "unit"), "localise": (),
                "landmarks": (), "segment": (), "verify": ()}  # fmt: skip


def explain_tools(task: str) -> tuple[str, ...]:
    """The explain tools that apply to a net trained for `task` (none for an unknown one)."""
    return TASK_EXPLAIN.get(task, ())


# The run page's captions that depend on what the run is: for each caption, rows of
# (task, dataset, text), the first row that matches wins (None matches any). One table,
# so a new task or dataset gets its words here and not in a template's fixed text.
RUN_CAPTIONS: dict[str, list[tuple[str | None, str | None, str]]] = {
    "filters": [
        (
            "classify",
            "stripes",
            "On stripes they turn into oriented edge detectors, one for "
            "each direction the stripes run.",
        ),
        (
            None,
            None,
            "They start as noise; as the net learns they usually smooth into the "
            "edges, strokes and blobs of contrast that the deeper layers combine.",
        ),
    ],
    "scrubber": [
        (
            "classify",
            None,
            "moves the filters, the activation maps, the confusion matrix and "
            "the curves' marker together",
        ),
        (
            None,
            None,
            "moves the filters, the activation maps, the predictions shown and the "
            "curves' marker together",
        ),
    ],
}


def run_captions(task: str | None, dataset: str | None) -> dict[str, str]:
    """Each of the run page's captions for a run of `task` on `dataset` (RUN_CAPTIONS)."""
    task = task or "classify"
    return {
        name: next(text for t, d, text in rows if t in (None, task) and d in (None, dataset))
        for name, rows in RUN_CAPTIONS.items()
    }


# What the builder says about each task: the head it adds, the loss, the output units.
TASK_HELP = {
    "classify": {
        "label": "Classify",
        "head": "classifier",
        "loss": "L = −log softmax(scores)[true class]  (cross-entropy)",
        "outputs": "one score per class; softmax turns them into probabilities",
    },
    "localise": {
        "label": "Localise (class + box)",
        "head": "box",
        "loss": f"L = cross-entropy(class) + {BOX_WEIGHT:g} · ¼ Σ (b̂ − b)² "
        "over the box's 4 numbers",
        "outputs": "K class scores, then the box: centre x, centre y, width, height "
        "as fractions of the picture side",
    },
    "landmarks": {
        "label": "Landmarks (k points)",
        "head": "points",
        "loss": "L = mean of (p̂ − p)² over every point's x and y (fractions of the side)",
        "outputs": "x then y of each point, as fractions of the picture side",
    },
    "segment": {
        "label": "Segment (a class per pixel)",
        "head": "mask",
        "loss": "L = mean over pixels of cross-entropy(scores of that pixel, its class)",
        "outputs": "K score maps at the picture's size: the class of a pixel is its "
        "highest score; the net must upsample back to the input size",
    },
    "verify": {
        "label": "Verify (one-shot, Siamese)",
        "head": "embedding",
        "loss": "triplet: L = max(‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α, 0); "
        "pair: L = BCE(σ(b − Σ softplus(w)·|f(a) − f(b)|), same)",
        "outputs": f"an embedding of {EMBEDDING_SIZE} numbers scaled to length 1: pictures of "
        "the same class lie close, others far; a distance under the threshold "
        "means “same”",
    },
}


def head_for(name: str, loss: str = "triplet") -> str:
    """The netspec head a task adds (see netspec.HEADS)."""
    if name == "verify":
        return "embedding" if loss == "triplet" else "siamese"
    return TASK_HELP[name]["head"]


def task_outputs(name: str, classes: int) -> int:
    """The head's width for a task on a dataset of `classes` classes (or points)."""
    return {"localise": classes + 4, "landmarks": 2 * classes,
            "verify": EMBEDDING_SIZE}.get(name, classes)  # fmt: skip


# ---------------------------------------------------------------------------------------
# presets: the builder's starting nets for each task (functions of the picture shape)


def _conv(filters: int, name: str = "") -> list[dict]:
    conv = {"type": "conv2d", "filters": filters, "kernel": 3, "padding": 1}
    relu = {"type": "relu", **({"name": name} if name else {})}
    return [conv, {"type": "batchnorm"}, relu]


def _pool(name: str = "") -> dict:
    return {"type": "maxpool", "kernel": 2, **({"name": name} if name else {})}


def _stages(shape: tuple[int, ...], wanted: int) -> int:
    """How many 2×2 poolings (up to `wanted`) leave at least 2×2 maps."""
    n, side = 0, min(shape[1:])
    while n < wanted and side // 2 ** (n + 1) >= 2:
        n += 1
    return n


def localiser(shape: tuple[int, ...]) -> list[dict]:
    """A small conv trunk: conv-BN-ReLU and pooling, three times, then 128 units."""
    layers: list[dict] = []
    for stage in range(_stages(shape, 3)):
        layers += _conv(16 * 2**stage) + [_pool()]
    return layers + [{"type": "flatten"}, {"type": "linear", "units": 128}, {"type": "relu"}]


def _encoder_decoder(shape: tuple[int, ...], up: str) -> list[dict]:
    """Two poolings down, then back up by `up`: "nearest", "bilinear", "unpool" or
    "transposed"."""
    stages = _stages(shape, 2)
    layers: list[dict] = []
    for s in range(stages):
        layers += _conv(16 * 2**s) + [_pool(f"pool{s + 1}" if up == "unpool" else "")]
    layers += _conv(16 * 2**stages)
    for s in reversed(range(stages)):
        if up == "unpool":  # back to the pool's size, each value where its maximum was
            layers += _conv(16 * 2**s) + [{"type": "maxunpool", "pool": f"pool{s + 1}"}]
        elif up == "transposed":
            layers += [
                {"type": "convtranspose2d", "filters": 16 * 2**s, "kernel": 2, "stride": 2},
                {"type": "relu"},
            ]
        else:
            layers += [{"type": "upsample", "scale": 2, "mode": up}]
        layers += _conv(16 * 2**s)
    return layers


def unet(shape: tuple[int, ...]) -> list[dict]:
    """Ronneberger's U-Net, small: each decoder stage concatenates the encoder's maps of
    the same size, so fine detail skips the bottleneck."""
    stages = _stages(shape, 2)
    layers: list[dict] = []
    for s in range(stages):
        layers += _conv(16 * 2**s, name=f"enc{s + 1}") + [_pool()]
    layers += _conv(16 * 2**stages)
    for s in reversed(range(stages)):
        layers += [
            {"type": "convtranspose2d", "filters": 16 * 2**s, "kernel": 2, "stride": 2},
            {"type": "concat", "from": f"enc{s + 1}"},
        ]
        layers += _conv(16 * 2**s)
    return layers


def siamese(shape: tuple[int, ...]) -> list[dict]:
    """The trunk both pictures of a pair (or all three of a triplet) go through."""
    layers: list[dict] = []
    for stage in range(_stages(shape, 2)):
        layers += _conv(32 * 2**stage) + [_pool()]
    return layers + [{"type": "flatten"}, {"type": "linear", "units": 128}, {"type": "relu"}]


# name -> (task, label, function of the picture shape)
TASK_PRESETS = {
    "localiser": ("localise", "Localiser", localiser),
    "landmarker": ("landmarks", "Landmark net", localiser),
    "segnet_nearest": (
        "segment",
        "Encoder–decoder, nearest",
        lambda s: _encoder_decoder(s, "nearest"),
    ),
    "segnet_bilinear": (
        "segment",
        "Encoder–decoder, bilinear",
        lambda s: _encoder_decoder(s, "bilinear"),
    ),
    "segnet_unpool": (
        "segment",
        "Encoder–decoder, max unpool",
        lambda s: _encoder_decoder(s, "unpool"),
    ),
    "segnet_transposed": (
        "segment",
        "Encoder–decoder, transposed conv",
        lambda s: _encoder_decoder(s, "transposed"),
    ),
    "unet": ("segment", "U-Net", unet),
    "siamese": ("verify", "Siamese trunk", siamese),
}

_STILL = {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0, "color": 0.0}
# Each task preset's training settings, which the builder fills in with the preset (as
# playground/presets.py's TRAINING does for the classifiers); bench/bench_tasks.py
# measures the targets with them.
TASK_TRAINING: dict[str, dict] = {
    "localiser": {"optimizer": "adam", "lr": 2e-3, "batch_size": 64, "epochs": 30},
    "landmarker": {"optimizer": "adam", "lr": 2e-3, "batch_size": 64, "epochs": 15},
    **{name: {"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "epochs": 10}
       for name in ("segnet_nearest", "segnet_bilinear", "segnet_unpool", "segnet_transposed",
                    "unet")},
    # held-out classes are best after a few epochs: later ones fit the trained classes
    "siamese": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 5},
}  # fmt: skip
TASK_TRAINING = {
    name: {"schedule": "constant", **settings, "augment": dict(_STILL)}
    for name, settings in TASK_TRAINING.items()
}
