"""Entities, errors and ports (Protocols). Imports nothing from the outer layers."""
