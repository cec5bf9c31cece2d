"""Adapters: git/GitHub fetchers, tree-sitter parser, dedup, storage, the trainer."""
