"""Running statistics and evaluation scores: pure arithmetic, no torch."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class RunningStats:
    """Mean, standard deviation, min and max of a stream (Welford's update, numerically stable)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else 0.0

    def summary(self) -> dict:
        return {"count": self.count, "mean": self.mean, "std": self.std,
                "min": self.min if self.count else None, "max": self.max if self.count else None}

    def state(self) -> dict:
        return asdict(self)


def classification_scores(confusion: list[list[int]]) -> dict[str, float]:
    """Accuracy and macro precision / recall / F1 from a confusion matrix [true][predicted].

    Classes absent from both truth and predictions are left out of the macro average, so a
    validation split without some label does not drag the score to zero.
    """
    n = len(confusion)
    total = sum(sum(row) for row in confusion)
    correct = sum(confusion[i][i] for i in range(n))
    precisions, recalls, f1s = [], [], []
    for k in range(n):
        true_k = sum(confusion[k])
        pred_k = sum(confusion[i][k] for i in range(n))
        if not true_k and not pred_k:
            continue
        tp = confusion[k][k]
        p = tp / pred_k if pred_k else 0.0
        r = tp / true_k if true_k else 0.0
        precisions.append(p)
        recalls.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return {"accuracy": correct / total if total else 0.0, "precision": mean(precisions),
            "recall": mean(recalls), "f1": mean(f1s)}
