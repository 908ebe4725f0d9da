"""Test-only parts shared by the whole suite (importable by subprocesses via PYTHONPATH)."""
