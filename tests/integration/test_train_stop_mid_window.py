"""Issue 11, item 11 (training): a stop request is honoured between micro-batches, the window it
cut is dropped and the last completed optimizer step is checkpointed, so resuming gives exactly
the uninterrupted run; a second request never costs the checkpoint. Real signals (os.kill of this
process) on a real tiny GPT-2 with dropout; the signal is sent from a torch forward hook at a
chosen micro-batch, so it lands mid-window every time."""
from __future__ import annotations

import os
import signal

import pytest
import torch

from infrastructure.training.checkpoints import verify
from infrastructure.training.state import read_trainer_state
from tests.integration.test_train_resume import assert_same_rows, train
from tests.train_fixtures import build_generation_dataset, read_metrics, tiny_config

ACCUMULATION = 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return build_generation_dataset(tmp_path_factory.mktemp("ds") / "ds")


def config(dataset, run_dir):
    # 4 micro-batches per step, dropout on: a resumed run matches only if the cut window left no
    # trace (gradients, data position and RNG all back to the end of the last completed step).
    return tiny_config(dataset, run_dir, training={"max_steps": 5, "gradient_accumulation_steps": ACCUMULATION},
                       eval={"every_steps": 2, "max_batches": 2})


class SignalAt:
    """A global forward hook: after the `at`-th training forward of the model, SIGTERM `times`."""

    def __init__(self, at: int, times: int = 1):
        self.at, self.times, self.forwards = at, times, 0

    def __call__(self, module, args, output):
        if not (module.training and type(module).__name__ == "GPT2LMHeadModel"):
            return
        self.forwards += 1
        if self.forwards == self.at:
            for _ in range(self.times):  # each handled before the next is sent: no coalescing
                os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self):
        self.handle = torch.nn.modules.module.register_module_forward_hook(self)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.mark.parametrize("times", [1, 2])
def test_a_stop_mid_window_checkpoints_the_last_step_and_resume_is_exact(dataset, tmp_path, times):
    full = train(config(dataset, tmp_path / "full"), tmp_path / "full")
    run_dir = tmp_path / "part"
    lines = []
    with SignalAt(ACCUMULATION + 2, times) as hook:  # the 2nd micro-batch of step 2
        part = train(config(dataset, run_dir), run_dir, log=lines.append)
    assert hook.forwards == ACCUMULATION + 2  # not one micro-batch more: the stop was prompt
    assert part["interrupted"] and part["steps"] == 1
    assert part["checkpoint"].endswith("step-000001") and verify(run_dir / "checkpoints" / "step-000001") is None
    assert any("stopped at step 1 (SIGTERM), between micro-batches of step 2, which is dropped" in line
               for line in lines), lines
    state = read_trainer_state(run_dir / "checkpoints" / "step-000001")  # JSON + safetensors, nothing unpickled
    assert state["position"] == {"epoch": 0, "micro": ACCUMULATION}  # the cut window is not consumed

    resumed = train(config(dataset, run_dir), run_dir, resume="latest")
    assert resumed["steps"] == 5 and not resumed["interrupted"]
    assert_same_rows(read_metrics(run_dir), read_metrics(tmp_path / "full"))
    assert resumed["eval_loss_after"] == pytest.approx(full["eval_loss_after"], abs=1e-6)
