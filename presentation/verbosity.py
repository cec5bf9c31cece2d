"""How much of the libraries' own chatter reaches the user: none unless `-v`.

transformers, datasets, accelerate and peft warn about deprecations and print loading bars on
every verb; a user of codetrain cannot act on them, so they are shown only with `-v`.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

QUIET_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "DATASETS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # also transformers' "Loading weights" bar
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TORCH_LOGS": "-onnx",  # torch (re)sets its loggers on import: this keeps torch.onnx at ERROR
    "TQDM_DISABLE": "1",  # bars opened by libraries straight from tqdm (transformers' GGUF reader)
}
# Loggers that warn on every run about things a user cannot act on: bitsandbytes' missing optional
# CPU kernel, torch.onnx's notes on torchvision ops it skips, the exporter's own progress.
NOISY_LOGGERS = ("bitsandbytes", "torch.onnx", "torch.export", "onnxscript", "accelerate", "peft", "datasets")
OWN_MODULES = r"(application|infrastructure|presentation|domain)(\..*)?$"


def set_verbosity(verbose: int) -> None:
    """Silence third-party warnings and progress bars unless `verbose` (the `-v` count) is set."""
    if verbose:
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=OWN_MODULES)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # already imported (a test, a notebook): tell it directly
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
