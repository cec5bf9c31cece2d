"""Decisions taken after each evaluation: stop early, cut the learning rate. Pure state machines
whose state goes into checkpoints so a resumed run decides exactly as the uninterrupted one."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from application.train.checkpoint_policy import Mode, is_better


@dataclass
class EarlyStopping:
    """Stop after `patience` evaluations without an improvement larger than `min_delta`.

    `patience=None` never stops but still tracks the best value and its step.
    """

    mode: Mode
    patience: int | None = None
    min_delta: float = 0.0
    best: float | None = None
    best_step: int | None = None
    bad_evals: int = 0

    def update(self, value: float, step: int) -> bool:
        """Record an evaluation; True when training should stop now."""
        if is_better(value, self.best, self.mode, self.min_delta):
            self.best, self.best_step, self.bad_evals = value, step, 0
        else:
            self.bad_evals += 1
        return self.patience is not None and self.bad_evals >= self.patience

    def state(self) -> dict:
        return asdict(self)


@dataclass
class PlateauCuts:
    """`reduce_on_plateau`: multiply the learning rate by `factor` after `patience` flat evaluations.

    Kept as a plain scale that the warm-up schedule multiplies in, so warm-up and cuts compose
    and the whole schedule is one LambdaLR plus this state.
    """

    mode: Mode
    factor: float = 0.5
    patience: int = 1
    scale: float = 1.0
    best: float | None = None
    bad_evals: int = 0

    def update(self, value: float) -> None:
        if is_better(value, self.best, self.mode):
            self.best, self.bad_evals = value, 0
            return
        self.bad_evals += 1
        if self.bad_evals > self.patience:
            self.scale *= self.factor
            self.bad_evals = 0

    def state(self) -> dict:
        return asdict(self)
