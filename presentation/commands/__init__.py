"""One module per command (click style); `presentation/cli.py` registers them on the group."""
