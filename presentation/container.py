"""The composition root: builds the object graph. Defaults are the real adapters; tests may
pass their own. Heavy libraries are imported here lazily, never at CLI start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from domain.errors import StorageError
from domain.ports import CodeParser, RepositoryFetcher, Storage


def open_storage(uri: str, **s3_options) -> Storage:
    """A Storage for a local path or an `s3://bucket/prefix` URI.

    Args:
        s3_options: S3Settings fields (provider, endpoint_url, region, ...) from the --s3-* flags;
            credentials are never among them (boto3's chain supplies those).
    """
    if uri.startswith("s3://"):
        from infrastructure.storage.providers import S3Settings
        from infrastructure.storage.s3 import S3Storage

        return S3Storage(uri, S3Settings(**s3_options))
    if "://" in uri:
        raise StorageError(f"{uri}: unsupported storage URI (use a local path or s3://bucket/prefix)")
    from infrastructure.storage.local import LocalStorage

    return LocalStorage(uri)


def default_fetchers(history: int = 0, log: Callable[[str], None] | None = None) -> list[RepositoryFetcher]:
    """Local folders, git URLs and GitHub (API base from $CODETRAIN_GITHUB_API_URL)."""
    from infrastructure.sources.git import GitFetcher
    from infrastructure.sources.github import GitHubFetcher
    from infrastructure.sources.local import LocalFetcher

    github = GitHubFetcher(history=history, log=log) if log else GitHubFetcher(history=history)
    return [github, GitFetcher(history), LocalFetcher()]


def default_parser() -> CodeParser:
    from infrastructure.parsing.treesitter import TreeSitterParser

    return TreeSitterParser()


@dataclass
class Container:
    """What the CLI commands need, built lazily on first use."""

    storage_for: Callable[[str], Storage] | None = None  # None: open_storage with s3_options
    s3_options: dict = field(default_factory=dict)  # the --s3-* flags (provider, endpoint...)
    fetchers_factory: Callable[..., list[RepositoryFetcher]] = default_fetchers  # (history, log)
    parser_factory: Callable[[], CodeParser] = default_parser

    def __post_init__(self):
        if self.storage_for is None:  # read s3_options at call time: the CLI group fills them in
            self.storage_for = lambda uri: open_storage(uri, **self.s3_options)

    def collect(self, request, progress=lambda done, total: None, log=lambda message: None):
        from application.collect.pipeline import collect_repositories
        from infrastructure.dedup.minhash import LSHIndex, MinHasher
        from infrastructure.data.parquet import iter_collection, write_lineage, write_shard
        from infrastructure.sources.git import list_commits, read_commit
        from infrastructure.sources.walker import walk_files

        columns = ["id", "kind", "content", "content_hash", "cluster_id"]
        index = LSHIndex(request.near_threshold)
        return collect_repositories(
            request, fetchers=self.fetchers_factory(history=request.history, log=log),
            parser=self.parser_factory(), storage=self.storage_for(request.output), walk=walk_files,
            write_shard=write_shard, write_lineage=write_lineage, sign_spans=MinHasher(banding=index.banding).sign_spans, near_index=index,
            read_previous=lambda uri: iter_collection(self.storage_for(uri), columns),
            list_commits=list_commits, read_commit=read_commit, progress=progress, log=log,
        )

    def build_dataset(self, request, input_uris, output_uri: str, log=lambda message: None):
        from application.dataset.pipeline import DatasetTools, build_dataset
        from infrastructure.data import tokenization
        from infrastructure.data.bandit import scan_python
        from infrastructure.evaluation.benchmarks import load_benchmark
        from infrastructure.data.hf import save_dataset_dict
        from infrastructure.dedup.split_duplicates import NearDuplicates
        from infrastructure.data.parquet import read_shards

        tools = DatasetTools(
            read_shards=read_shards, near_duplicates=NearDuplicates(),
            train_tokenizer=tokenization.train_bpe_tokenizer, load_tokenizer=tokenization.load_tokenizer,
            tokenize=tokenization.tokenize_texts, tokenizer_fingerprint=tokenization.tokenizer_fingerprint,
            load_benchmark=load_benchmark, scan_security=scan_python, save_dataset_dict=save_dataset_dict,
        )
        uris = [input_uris] if isinstance(input_uris, str) else list(input_uris)
        return build_dataset(
            request, collections=[self.storage_for(u) for u in uris], output=self.storage_for(output_uri),
            tools=tools, log=log,
        )

    def train(self, config, log, resume=None, on_checkpoint=None):
        from functools import partial

        from application.train.pipeline import train_model
        from infrastructure.training.loop import run_training

        check = None
        if config.eval.behavioural_every_steps:
            from infrastructure.evaluation.behavioural import behavioural_check

            e = config.eval
            check = behavioural_check(e.behavioural_benchmark, e.behavioural_problems, e.behavioural_max_new_tokens)
        return train_model(
            config, dataset=self.storage_for(config.data.path), output=self.storage_for(config.output.dir),
            run_training=partial(run_training, behavioural_check=check), log=log, resume=resume,
            on_checkpoint=on_checkpoint,
        )

    def evaluate_benchmark(self, request, *, run=None, model=None, output: str, seed=0, threads=None,
                           on_progress=None):
        import tempfile
        from pathlib import Path

        from application.runs.evaluate import benchmark_label, run_benchmark
        from application.runs.reading import final_model
        from infrastructure.evaluation.benchmarks import load_problems
        from infrastructure.evaluation.generation import completer_for
        from infrastructure.sandbox.supervisor import Limits, Sandbox

        with tempfile.TemporaryDirectory(prefix="codetrain-eval-") as tmp, \
                Sandbox(Limits(wall_seconds=request.timeout)) as sandbox:
            folder = None if request.oracle else (final_model(self.storage_for(run), Path(tmp)) if run else Path(model))
            return run_benchmark(
                request, problems=load_problems(request.benchmark),
                complete=None if folder is None else completer_for(folder, request, seed, threads).complete,
                execute=lambda programs: sandbox.run_many(programs, request.workers),
                output=self.storage_for(output), prefix=f"{benchmark_label(request)}/",
                describe={"model": run or model, "isolation": sandbox.isolation,
                          "sandbox_warning": sandbox.warning, "limits": sandbox.limits.__dict__},
                on_progress=on_progress or (lambda done, total: None))

    def evaluate_dataset(self, request, *, run=None, model=None, dataset=None, output: str, threads=None):
        import tempfile
        from pathlib import Path

        from application.artifacts import fetch_tree, read_json
        from domain.layout import STATS
        from application.runs.evaluate import evaluate_dataset
        from application.runs.reading import choose_dataset, final_model
        from infrastructure.evaluation import loading, scoring

        with tempfile.TemporaryDirectory(prefix="codetrain-eval-") as tmp:
            folder = final_model(self.storage_for(run), Path(tmp)) if run else Path(model)
            data = self.storage_for(choose_dataset(dataset, self.storage_for(run) if run else None))
            data_dir = fetch_tree(data, Path(tmp) / "dataset", STATS, "dataset")
            task = loading.model_task(folder)
            net = loading.load_model(folder, task, threads)
            return evaluate_dataset(
                request, stats=read_json(data, STATS), model_task=task,
                perplexity=lambda split, mb, bs: scoring.token_loss(net, scoring.load_split(data_dir, split), bs, mb),
                predict=lambda split, mb, bs: scoring.predictions(net, scoring.load_split(data_dir, split), bs, mb),
                output=self.storage_for(output), key=f"dataset-{request.split}.json",
                describe={"model": run or model, "dataset": data.uri})

    def export(self, request, *, run=None, model=None, output: str, after_merge=None):
        from pathlib import Path

        from application.runs.export import export_model
        from infrastructure.export import ExportSource, export_onnx

        return export_model(request, output=self.storage_for(output), open_source=ExportSource,
                            run=self.storage_for(run) if run else None,
                            model_folder=Path(model) if model else None,
                            export_onnx=export_onnx, after_merge=after_merge)

    def report(self, run: str, output: str | None = None):
        from application.runs.report import build_report
        from infrastructure.plots import line_chart

        target = output or f"{run.rstrip('/')}/report"
        return build_report(self.storage_for(run), self.storage_for(target), plot=line_chart)
