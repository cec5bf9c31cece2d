"""final/ and checkpoints load under transformers 4.x, the line vLLM and llama.cpp's converter pin.

transformers 4.x needs no torch to load a tokenizer or a config, so a small separate venv with
`transformers<5` alone is enough (built once at $CODETRAIN_TF4_VENV or /tmp/codetrain-tf4-venv; the
test skips, saying why, when it cannot be built, e.g. without a package index).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.train_fixtures import build_generation_dataset, tiny_config

VENV = Path(os.environ.get("CODETRAIN_TF4_VENV", "/tmp/codetrain-tf4-venv"))
SAMPLE = "def scale(values, factor=3):\n    return [v * factor for v in values]\n"
LOAD = """
import json, sys
from transformers import AutoConfig, AutoTokenizer
import transformers
out = {"version": transformers.__version__}
for folder in sys.argv[2:]:
    try:
        tok = AutoTokenizer.from_pretrained(folder)
        out[folder] = {"class": type(tok).__name__, "ids": tok(sys.argv[1])["input_ids"], "vocab": len(tok),
                       "model_type": AutoConfig.from_pretrained(folder).model_type}
    except Exception as exc:
        out[folder] = {"error": type(exc).__name__ + ": " + str(exc).splitlines()[0]}
print(json.dumps(out))
"""


def transformers4_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
        installed = made.returncode == 0 and subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "transformers>=4.50,<5"], capture_output=True, text=True,
            timeout=600).returncode == 0
        if not installed:
            pytest.skip(f"cannot build a transformers 4.x venv at {VENV} (no package index?)")
    return python


@pytest.mark.slow
def test_final_and_checkpoint_tokenizers_load_under_transformers_4(tmp_path):
    from transformers import AutoTokenizer

    from infrastructure.training.loop import run_training

    python = transformers4_python()
    dataset = build_generation_dataset(tmp_path / "ds")
    run_dir = tmp_path / "run"
    run_training(tiny_config(dataset, run_dir, training={"max_steps": 2}), dataset, run_dir, lambda line: None)
    checkpoint = next((run_dir / "checkpoints").iterdir())
    legacy = tmp_path / "legacy"  # what transformers 5 writes by itself: the failure this fixes
    AutoTokenizer.from_pretrained(str(run_dir / "final")).save_pretrained(str(legacy))
    (legacy / "config.json").write_text((run_dir / "final" / "config.json").read_text())
    folders = [str(run_dir / "final"), str(checkpoint), str(legacy)]
    done = subprocess.run([str(python), "-c", LOAD, SAMPLE, *folders], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"].startswith("4.")
    expected = AutoTokenizer.from_pretrained(str(run_dir / "final"))
    for folder in folders[:2]:
        assert result[folder].get("class") == "PreTrainedTokenizerFast", result[folder]
        assert result[folder]["ids"] == expected(SAMPLE)["input_ids"]
        assert result[folder]["vocab"] == len(expected) and result[folder]["model_type"] == "gpt2"
    assert "TokenizersBackend" in result[str(legacy)].get("error", ""), result[str(legacy)]
