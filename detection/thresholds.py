"""Per-class confidence thresholds: "cup=0.5, person=0.3" as people write them, checked.

A class without its own threshold uses the global confidence. Plain Python (no torch), so
the form, the CLI, the worker and the engine share one reading of the text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def parse_class_conf(
    text: str, class_names: Sequence[str], *, floor: float = 0.0
) -> dict[str, float]:
    """{"cup": 0.5, ...} from "cup=0.5, person=0.3"; raises ValueError naming the bad part.

    Each entry is `name=value`, comma-separated; names must be classes of the model, each at
    most once; values are finite numbers from `floor` to 1. An empty text means none.
    """
    out: dict[str, float] = {}
    known = set(class_names)
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not name or not value:
            raise ValueError(f"“{part}” is not class=confidence (like cup=0.5)")
        if name not in known:
            raise ValueError(f"“{name}” is not a class of this model")
        if name in out:
            raise ValueError(f"“{name}” is given twice")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"“{value}” (for {name}) is not a number") from None
        if not math.isfinite(number) or not floor <= number <= 1:
            raise ValueError(f"the confidence for {name} must be between {floor:g} and 1")
        out[name] = number
    return out


def format_class_conf(class_conf: Mapping[str, float]) -> str:
    """The text form parse_class_conf reads: "cup=0.5, person=0.3" (in the given order)."""
    return ", ".join(f"{name}={value:g}" for name, value in class_conf.items())


def threshold(name: str, conf: float, class_conf: Mapping[str, float] | None) -> float:
    """The confidence a box of class `name` needs: its own, or the global one."""
    return conf if not class_conf else class_conf.get(name, conf)
