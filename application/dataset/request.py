"""The options of `python main.py dataset`, checked once: a bad value is a one-line error."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from application.dataset.formats import column_map
from application.dataset.tasks import SEVERITIES, TASKS
from domain.entities import UNIT_KINDS
from domain.errors import DatasetError

DEFAULT_KINDS = {"generation": ("file",), "classification": ("file",), "security": ("function", "method"),
                 "instruct": ("function", "method", "commit")}


@dataclass(frozen=True)
class DatasetRequest:
    """Options of `python main.py dataset`; every field changes the output except `num_proc`/`use_cache`."""

    task: str = "generation"
    """generation (causal LM), classification (label from a column), security (Bandit label) or
    instruct (loss on completions / assistant turns only; from a collection: docstring -> code
    and commit message -> diff pairs)."""
    seq_len: int = 2048
    """Tokens per row (packed block, padded row, or classification cut-off)."""
    pack: bool = True
    """Pack documents into blocks; False pads one document (piece) per row."""
    seed: int = 42
    """Seed of the split assignment and of the FIM coin flips."""
    ratios: tuple[float, float, float] = (0.9, 0.05, 0.05)
    """Shares of units for train, validation and test (of the units in repositories not pinned);
    0 shares are allowed, e.g. 0,0,1 makes a whole collection a test set."""
    test_repos: tuple[str, ...] = ()
    """Repositories (names or globs) whose units all go to the test split."""
    validation_repos: tuple[str, ...] = ()
    """Repositories (names or globs) whose units all go to the validation split."""
    tokenizer: str = "train"
    """`train` (byte-level BPE on the train split) or a tokenizer folder / hub name."""
    vocab_size: int = 8000
    """Vocabulary of a trained tokenizer."""
    kinds: tuple[str, ...] | None = None
    """Unit kinds used; None = the task's default (files; functions and methods for security)."""
    languages: tuple[str, ...] = ()
    """Only units of these languages (collect's names, e.g. python,go); empty = every language."""
    label_field: str = "language"
    """Column holding the class of a unit (classification)."""
    header: bool = False
    """Generation: prefix each document with `# path:` and `# language:` lines."""
    fim_rate: float = 0.0
    """Generation: share of documents rewritten prefix/suffix/middle with sentinel tokens."""
    recency_half_life_days: float | None = None
    """Generation: weight rows by commit date, halving per this many days of age; None = off."""
    near_dup_threshold: float = 0.8
    """Jaccard similarity at which units count as near-duplicates; 0 = no near-dup handling."""
    decontaminate: tuple[str, ...] = ()
    """Benchmarks to remove: `humaneval` and/or JSONL files with prompt/canonical_solution."""
    decontaminate_near: float | None = None
    """Also drop units whose MinHash similarity to a benchmark problem reaches this; None = exact only."""
    severity: str = "low"
    """Security: lowest Bandit severity that makes a unit vulnerable."""
    bandit_skip: tuple[str, ...] = ("B101", "B110", "B112", "B403", "B404", "B603")
    """Security: Bandit tests ignored. The defaults flag a construct, not a misuse: `assert`
    (B101), `except: pass/continue` (B110, B112), importing pickle/subprocess (B403, B404),
    subprocess without a shell (B603); the misuses (B301 pickle.loads, B602 shell=True) stay."""
    chat_template: str | None = None
    """Instruct: `chatml` or a `.jinja` file for conversation rows; None = the tokenizer's own."""
    columns: tuple[tuple[str, str], ...] = ()
    """(role, column) pairs naming the columns of user rows, e.g. (("prompt", "question"),)."""
    num_proc: int = 1
    """Processes for tokenization and Bandit."""
    use_cache: bool = True
    """Reuse the dataset already in the output when inputs and options are unchanged."""

    def __post_init__(self):
        def bad(option: str, value, why: str):
            raise DatasetError(f"{option} {value}: {why}")

        if self.task not in TASKS:
            bad("--task", self.task, f"unknown task (choose from {', '.join(TASKS)})")
        if len(self.ratios) != 3 or min(self.ratios) < 0 or abs(sum(self.ratios) - 1.0) > 1e-6:
            bad("--split", ",".join(map(str, self.ratios)), "three non-negative ratios summing to 1")
        if self.ratios[0] <= 0 and self.tokenizer == "train":
            bad("--split", ",".join(map(str, self.ratios)),
                "no training share to train a tokenizer on: pass the model's --tokenizer")
        if self.seq_len < 8:
            bad("--seq-len", self.seq_len, "must be at least 8")
        if not 0.0 <= self.fim_rate <= 1.0:
            bad("--fim-rate", self.fim_rate, "must be between 0 and 1")
        if not 0.0 <= self.near_dup_threshold <= 1.0:
            bad("--near-dup-threshold", self.near_dup_threshold, "must be between 0 and 1")
        if self.decontaminate_near is not None and not 0.0 < self.decontaminate_near <= 1.0:
            bad("--decontaminate-near", self.decontaminate_near, "must be in (0, 1]")
        if self.recency_half_life_days is not None and self.recency_half_life_days <= 0:
            bad("--recency-half-life", self.recency_half_life_days, "must be a positive number of days")
        if self.severity.lower() not in SEVERITIES:
            bad("--severity", self.severity, f"choose from {', '.join(SEVERITIES)}")
        unknown = [k for k in self.kinds or () if k not in UNIT_KINDS]
        if unknown:
            bad("--kinds", ",".join(unknown), f"unknown unit kind (choose from {', '.join(UNIT_KINDS)})")
        column_map(self.columns)  # an unknown role fails here
        if self.num_proc < 1:
            bad("--num-proc", self.num_proc, "must be at least 1")

    @property
    def pins(self) -> dict[str, tuple[str, ...]]:
        return {"test": self.test_repos, "validation": self.validation_repos}

    @property
    def stratify_by(self) -> str:
        """The field every split should cover: the class for classification, else the language."""
        return self.label_field if self.task == "classification" else "language"

    @property
    def unit_kinds(self) -> tuple[str, ...]:
        return self.kinds or DEFAULT_KINDS[self.task]

    def cache_options(self) -> dict:
        options = {k: [list(p) for p in v] if k == "columns" else list(v) if isinstance(v, tuple) else v
                   for k, v in asdict(self).items() if k not in ("num_proc", "use_cache")}
        return {**options, "kinds": list(self.unit_kinds)}  # JSON-shaped: equal after a round trip


def parse_list(text: str | None) -> tuple[str, ...]:
    """`"a, b,,c"` -> ("a", "b", "c")."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def parse_ratios(text: str) -> tuple[float, float, float]:
    """`"0.9,0.05,0.05"` -> (0.9, 0.05, 0.05); DatasetRequest checks they sum to 1."""
    try:
        ratios = tuple(float(part) for part in parse_list(text))
    except ValueError:
        raise DatasetError(f"--split {text}: expected three numbers such as 0.9,0.05,0.05") from None
    if len(ratios) != 3:
        raise DatasetError(f"--split {text}: expected three numbers such as 0.9,0.05,0.05")
    return ratios
