"""The composition root: builds the object graph. Defaults are the real adapters; tests may
pass their own. Heavy libraries are imported here lazily, never at CLI start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from domain.errors import StorageError
from domain.layout import REGISTRY
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


def default_fetchers(history: int = 0, log: Callable[[str], None] | None = None,
                     stall_seconds: float = 60.0) -> list[RepositoryFetcher]:
    """Local folders, git URLs and GitHub (API base from $CODETRAIN_GITHUB_API_URL)."""
    from infrastructure.sources.git import GitFetcher
    from infrastructure.sources.github import GitHubFetcher
    from infrastructure.sources.local import LocalFetcher

    github = GitHubFetcher(history=history, log=log) if log else GitHubFetcher(history=history)
    return [github, GitFetcher(history, stall_seconds), LocalFetcher()]


def default_parser() -> CodeParser:
    from infrastructure.parsing.treesitter import TreeSitterParser

    return TreeSitterParser()


class FetchersFactory(Protocol):
    """Builds the repository fetchers for one collect (`default_fetchers`, or fakes in tests)."""

    def __call__(self, history: int = 0, log: Callable[[str], None] | None = None,
                 stall_seconds: float = 60.0) -> list[RepositoryFetcher]: ...


@dataclass
class Container:
    """What the CLI commands need, built lazily on first use."""

    storage_for: Callable[[str], Storage] | None = None  # None: open_storage with s3_options
    s3_options: dict = field(default_factory=dict)  # the --s3-* flags (provider, endpoint...)
    fetchers_factory: FetchersFactory = default_fetchers
    parser_factory: Callable[[], CodeParser] = default_parser

    def __post_init__(self):
        if self.storage_for is None:  # read s3_options at call time: the CLI group fills them in
            self.storage_for = lambda uri: open_storage(uri, **self.s3_options)

    def collect_executor(self, executor: str, ray_address: str | None, workers: int, batch_files: int = 64):
        """None for the local executor; else the distributed one (its tasks open storage themselves)."""
        if executor == "local":
            return None
        from functools import partial

        from infrastructure.executors.ray_collect import RayCollectExecutor
        from infrastructure.executors.ray_runtime import RaySettings

        settings = RaySettings(address=ray_address, num_cpus=None if ray_address else workers)
        return RayCollectExecutor(settings, partial(open_storage, **self.s3_options), batch_tasks=batch_files)

    def collect(self, request, progress=lambda done, total: None, log=lambda message: None,
                executor: str = "local", ray_address: str | None = None, batch_files: int = 64):
        from application.collect.pipeline import collect_repositories
        from infrastructure.dedup.minhash import LSHIndex, MinHasher
        from infrastructure.data.parquet import iter_collection, read_shards, write_lineage, write_shard
        from infrastructure.sources.git import list_commits, read_commit
        from infrastructure.sources.walker import walk_files

        columns = ["id", "kind", "content", "content_hash", "cluster_id"]
        index = LSHIndex(request.near_threshold)
        return collect_repositories(
            request, fetchers=self.fetchers_factory(history=request.history, log=log,
                                                    stall_seconds=request.git_stall_seconds),
            parser=self.parser_factory(), storage=self.storage_for(request.output), walk=walk_files,
            write_shard=write_shard, write_lineage=write_lineage, sign_spans=MinHasher(banding=index.banding).sign_spans, near_index=index,
            read_previous=lambda uri: iter_collection(self.storage_for(uri), columns), read_shards=read_shards,
            list_commits=list_commits, read_commit=read_commit, progress=progress, log=log,
            executor=self.collect_executor(executor, ray_address, request.workers, batch_files),
        )

    def build_dataset(self, request, input_uris, output_uri: str, log=lambda message: None, overwrite=False,
                      executor: str = "local", ray_address: str | None = None,
                      progress=lambda stage, done=0, total=0, unit="": None):
        from application.dataset.pipeline import build_dataset
        from application.dataset.sources import check_weights, parse_input
        from infrastructure.data.records import open_input

        tools = self.dataset_tools()
        specs = [parse_input(u) for u in ([input_uris] if isinstance(input_uris, str) else input_uris)]
        check_weights(specs)

        def build(tools):
            return build_dataset(request, inputs=[open_input(s, self.storage_for) for s in specs],
                                 output=self.storage_for(output_uri), tools=tools, log=log, overwrite=overwrite,
                                 progress=progress)

        if executor == "local":
            return build(tools)
        from dataclasses import replace

        from infrastructure.executors import ray_dataset
        from infrastructure.executors.ray_runtime import RaySettings, ray_session

        with ray_session(RaySettings(address=ray_address, num_cpus=None if ray_address else request.num_proc)):
            return build(replace(tools, near_duplicates=ray_dataset.RayNearDuplicates(), tokenize=ray_dataset.tokenize,
                                 scan_security=ray_dataset.scanner(tools.scan_security), pack=ray_dataset.pack,
                                 assign_splits=ray_dataset.assign_splits))

    @staticmethod
    def dataset_tools():
        from application.dataset.pipeline import DatasetTools
        from infrastructure.data import chat, tokenization
        from infrastructure.data.bandit import scan_python
        from infrastructure.evaluation.benchmarks import load_benchmark
        from infrastructure.data.hf import save_dataset_dict
        from infrastructure.dedup.split_duplicates import NearDuplicates
        from infrastructure.data.parquet import read_shards

        tools = DatasetTools(
            read_shards=read_shards, near_duplicates=NearDuplicates(),
            train_tokenizer=tokenization.train_bpe_tokenizer, load_tokenizer=tokenization.load_tokenizer,
            tokenize=tokenization.tokenize_texts, special_frame=tokenization.special_frame,
            tokenizer_fingerprint=tokenization.tokenizer_fingerprint,
            load_benchmark=load_benchmark, scan_security=scan_python, save_dataset_dict=save_dataset_dict,
            load_chat_template=chat.load_chat_template, chat_format=chat.chat_format, end_of_turn=chat.end_of_turn,
            save_tokenizer=tokenization.save_tokenizer,
        )
        return tools

    def train(self, config, log, resume=None, on_checkpoint=None, overwrite=False, on_progress=None):
        from functools import partial

        from application.train.pipeline import train_model
        from infrastructure.training.loop import run_training
        from infrastructure.training.plain import prepare_plain_dataset
        from infrastructure.training.memory import probe_memory

        check = None
        if config.eval.behavioural_every_steps:
            from infrastructure.evaluation.behavioural import behavioural_check

            e = config.eval
            check = behavioural_check(e.behavioural_benchmark, e.behavioural_problems, e.behavioural_max_new_tokens)
        return train_model(
            config, dataset=self.storage_for(config.data.path), output=self.storage_for(config.output.dir),
            run_training=partial(run_training, behavioural_check=check), log=log, resume=resume,
            on_checkpoint=on_checkpoint, prepare_plain=prepare_plain_dataset, overwrite=overwrite,
            memory_probe=probe_memory, on_progress=on_progress,
        )

    def projects(self, home: Path):
        """The project registry in `home` ($CODETRAIN_HOME) and this machine's processes."""
        from infrastructure.projects.processes import OSProcesses
        from infrastructure.projects.sqlite_registry import SQLiteRegistry

        return SQLiteRegistry(home / REGISTRY), OSProcesses()

    def project_steps(self):
        """The verbs `project train` composes: this container's own collect, dataset and train."""
        from application.projects.training import ProjectSteps
        from infrastructure.projects.source_state import source_state

        return ProjectSteps(collect=self.collect, build_dataset=self.build_dataset, train=self.train,
                            source_state=source_state)

    def evaluate_benchmark(self, request, *, run=None, model=None, output: str, seed=0, threads=None,
                           on_progress=None, allow_unsafe: bool = False, base=None):
        from application.runs.evaluate_run import evaluate_run_on_benchmark
        from infrastructure.evaluation.benchmarks import load_problems
        from infrastructure.evaluation.generation import completer_for
        from infrastructure.sandbox.supervisor import Limits, Sandbox

        with Sandbox(Limits(wall_seconds=request.timeout), allow_unsafe=allow_unsafe) as sandbox:
            return evaluate_run_on_benchmark(
                request, run=run, model=model, output=output, open_storage=self.storage_for,
                load_problems=load_problems,
                completer=lambda folder: completer_for(folder, request, seed, threads, base).complete,
                sandbox=sandbox, on_progress=on_progress or (lambda done, total: None))

    def evaluate_dataset(self, request, *, run=None, model=None, dataset=None, output: str, threads=None,
                         base=None):
        from application.runs.evaluate_run import evaluate_run_on_dataset
        from infrastructure.evaluation.scoring import LoadedModel

        return evaluate_run_on_dataset(
            request, run=run, model=model, dataset=dataset, output=output, open_storage=self.storage_for,
            load_scorer=lambda folder, data_dir: LoadedModel(folder, data_dir, threads, base))

    def export(self, request, *, run=None, model=None, output: str, after_merge=None, base=None):
        from functools import partial
        from pathlib import Path

        from application.runs.export import export_model
        from infrastructure.export.source import ExportSource
        from infrastructure.export.onnx import export_onnx

        return export_model(request, output=self.storage_for(output), open_source=partial(ExportSource, base=base),
                            run=self.storage_for(run) if run else None,
                            model_folder=Path(model) if model else None,
                            export_onnx=export_onnx, after_merge=after_merge)

    def generator(self, *, run=None, model=None, adapter=None, threads=None):
        """A loaded model that streams completions: a run's final/, or a model folder (+ adapter)."""
        import tempfile
        from pathlib import Path

        from application.runs.reading import final_model
        from infrastructure.evaluation.generation import text_generator

        with tempfile.TemporaryDirectory(prefix="codetrain-generate-") as tmp:  # loaded into memory, then gone
            folder = final_model(self.storage_for(run), Path(tmp)) if run else Path(model)
            return text_generator(folder, Path(adapter) if adapter else None, threads)

    def report(self, run: str, output: str | None = None):
        from application.runs.report import build_report
        from infrastructure.plots import line_chart

        target = output or f"{run.rstrip('/')}/report"
        return build_report(self.storage_for(run), self.storage_for(target), plot=line_chart)
