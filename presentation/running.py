"""Calling a use case from a command: user errors become one line and their exit code."""
from __future__ import annotations

import sys

import click

from domain.errors import CodetrainError


class UserError(click.ClickException):
    """A CodetrainError shown as one line, with the error's own exit code."""

    def __init__(self, error: CodetrainError):
        super().__init__(str(error))
        self.exit_code = error.exit_code


def run(fn, *args, **kwargs):
    """Call a use case; turn user errors into one line and a non-zero exit."""
    try:
        return fn(*args, **kwargs)
    except CodetrainError as error:
        raise UserError(error) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
