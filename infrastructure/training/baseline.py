"""The unigram baseline of a causal-LM run, on exactly the tokens its evaluation scores."""
from __future__ import annotations

from application.train.metric_stats import unigram_cross_entropy
from domain.layout import IGNORE_INDEX


def _target_counts(split, vocab: int, rows: int | None):
    """Occurrences of each token id as a target (labels shifted by one, -100 skipped)."""
    import numpy as np

    if rows is not None:
        split = split.select(range(min(rows, len(split))))
    labels = np.asarray(split.with_format("numpy")["labels"])
    targets = labels[:, 1:].reshape(-1)
    targets = targets[targets != IGNORE_INDEX]
    return np.bincount(targets, minlength=vocab)


def unigram_loss(train_split, eval_split, vocab: int, eval_rows: int | None) -> float:
    """Unigram cross-entropy (frequencies from the training split) on the first `eval_rows` rows of
    the evaluation split: what `evaluate` scores with `max_batches` x batch size."""
    train = _target_counts(train_split, vocab, None)
    evaluated = _target_counts(eval_split, vocab, eval_rows)
    return unigram_cross_entropy(train.tolist(), evaluated.tolist())
