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


def per_class_scores(confusion: list[list[int]]) -> list[dict[str, float]]:
    """Precision, recall, F1, support and predicted count of each class of a confusion matrix
    [true][predicted]. A class never predicted has precision 0 (not NaN)."""
    n = len(confusion)
    scores = []
    for k in range(n):
        support = sum(confusion[k])
        predicted = sum(confusion[i][k] for i in range(n))
        tp = confusion[k][k]
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        scores.append({"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                       "support": support, "predicted": predicted})
    return scores


def classification_scores(confusion: list[list[int]]) -> dict[str, float]:
    """Accuracy and macro precision / recall / F1 from a confusion matrix [true][predicted].

    Classes absent from both truth and predictions are left out of the macro average, so a
    validation split without some label does not drag the score to zero. Training's eval and
    `evaluate` both use this, so they report the same numbers for the same model and split.
    """
    total = sum(sum(row) for row in confusion)
    correct = sum(confusion[i][i] for i in range(len(confusion)))
    present = [c for c in per_class_scores(confusion) if c["support"] or c["predicted"]]
    mean = lambda key: sum(c[key] for c in present) / len(present) if present else 0.0  # noqa: E731
    return {"accuracy": correct / total if total else 0.0, "precision": mean("precision"),
            "recall": mean("recall"), "f1": mean("f1")}


def average_precision(scores: list[float], truth: list[int]) -> float:
    """Area under the precision-recall curve of the positive class (1), as average precision:
    the mean of the precision at the rank of every positive, examples ranked by `scores`
    (highest first; tied scores form one threshold). 0.0 when there is no positive.

    Unlike accuracy or macro F1, it exposes a classifier that never ranks the rare class first:
    its value is then near the positive share (0.007 for 0.7% vulnerable code).
    """
    positives = sum(truth)
    if not positives:
        return 0.0
    ranked = sorted(zip(scores, truth), key=lambda pair: -pair[0])
    total, hits, seen, i = 0.0, 0, 0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        tied_hits = sum(label for _, label in ranked[i:j])
        hits, seen = hits + tied_hits, seen + (j - i)
        total += tied_hits * hits / seen
        i = j
    return total / positives


def best_f1_threshold(scores: list[float], truth: list[int]) -> tuple[float, float] | None:
    """The cut-off on the positive-class probability that maximises the positive class's F1 on
    these examples, and that F1: (threshold, f1), predicting positive when score >= threshold;
    None when there is no positive. Tied scores form one cut-off.

    With a rare class, argmax (0.5) is rarely the best cut-off: balanced sampling trains for a
    50/50 prior, so at the natural rate most alarms are false. A cut-off chosen on validation rows
    and used unchanged on test rows is the usual remedy.
    """
    positives = sum(truth)
    if not positives:
        return None
    ranked = sorted(zip(scores, truth), key=lambda pair: -pair[0])
    best, hits, seen, i = (1.0, 0.0), 0, 0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        hits, seen = hits + sum(label for _, label in ranked[i:j]), seen + (j - i)
        f1 = 2 * hits / (seen + positives)  # 2PR / (P + R) with P = hits/seen, R = hits/positives
        if f1 > best[1]:
            best = (ranked[i][0], f1)
        i = j
    return best


def per_class_table(confusion: list[list[int]], labels: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each named class."""
    return {name: {k: c[k] for k in ("precision", "recall", "f1", "support")}
            for name, c in zip(labels, per_class_scores(confusion))}


def unigram_cross_entropy(train_counts, eval_counts) -> float:
    """Loss (nats per token) of the unigram baseline on the evaluated tokens: every token predicted
    with its training frequency, add-one smoothed over the vocabulary, context ignored. A language
    model that does not beat it has learned nothing but token frequencies.

    Args:
        train_counts: Occurrences of each token id as a training target (index = id).
        eval_counts: Occurrences of each token id as an evaluated target (same length).
    """
    total = sum(train_counts) + len(train_counts)
    evaluated = sum(eval_counts)
    if not evaluated:
        return 0.0
    return -sum(n * math.log((train_counts[t] + 1) / total) for t, n in enumerate(eval_counts) if n) / evaluated
