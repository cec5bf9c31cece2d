"""Entry point: `python main.py --help`."""
from presentation.cli import cli

if __name__ == "__main__":
    cli()
