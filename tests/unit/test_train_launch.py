"""Reading a launcher's command line: how many processes it was asked for, and the launch that gives them."""
from __future__ import annotations

from application.train.launch import asked_processes, fewer_processes_warning, working_launch

CPU_LAUNCH = ["/venv/bin/python", "/venv/bin/accelerate", "launch", "--cpu", "--num_processes", "2",
              "main.py", "train", "--config", "my config.yaml"]


def test_the_count_is_read_from_the_launcher_options_only():
    assert asked_processes(CPU_LAUNCH) == 2
    assert asked_processes(["accelerate", "launch", "--num-processes=4", "main.py"]) == 4
    # after the script the arguments are the script's own
    assert asked_processes(["accelerate", "launch", "main.py", "--num_processes", "8"]) is None
    assert asked_processes(["/bin/bash", "-c", "python main.py train"]) is None
    assert asked_processes(["python", "-m", "launch", "--num_processes", "2"]) is None  # not accelerate


def test_the_warning_names_the_launch_that_starts_the_processes():
    assert working_launch(CPU_LAUNCH, cpu=True) == (
        "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 main.py train --config 'my config.yaml'")
    assert working_launch(["accelerate", "launch", "--num_processes", "2", "x.py"], cpu=False) == \
        "accelerate launch --multi_gpu --num_processes 2 x.py"
    assert fewer_processes_warning(CPU_LAUNCH, 1, cpu=True).startswith(
        "warning: 2 processes asked but 1 started (`accelerate launch --cpu` starts one process); for 2: ")
    assert fewer_processes_warning(CPU_LAUNCH, 2, cpu=True) is None
    assert fewer_processes_warning(["python", "main.py", "train"], 1, cpu=True) is None
