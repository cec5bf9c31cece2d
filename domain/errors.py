"""Errors a user can cause. The CLI turns each into one line and a non-zero exit."""


class CodetrainError(Exception):
    """Base of every error that is the user's to fix (bad path, bad config, bad URL)."""

    exit_code = 1


class ConfigError(CodetrainError):
    """A configuration file or override names an unknown key or a bad value."""

    exit_code = 2


class SourceError(CodetrainError):
    """A source repository cannot be found, cloned or read."""


class StorageError(CodetrainError):
    """A storage location cannot be read or written, or holds an incomplete artifact."""


class DatasetError(CodetrainError):
    """A collection or dataset is missing, empty or of the wrong shape."""


class TrainingError(CodetrainError):
    """Training cannot start or continue (unsupported device feature, bad checkpoint...)."""


class EvaluationError(CodetrainError):
    """An evaluation cannot run: bad benchmark file, bad pass@k request, missing model."""


class ExportError(CodetrainError):
    """An export was refused: nothing to export, or the merged model fails the parity check."""


class ExecutorError(CodetrainError):
    """The distributed engine (Ray) cannot be started or reached, or gave up on a task."""


class ProjectError(CodetrainError):
    """A project is unknown, already registered, busy training, or not in a state for this verb."""
