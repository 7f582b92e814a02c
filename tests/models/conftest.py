"""Model tests use the reference networks (fixture `reference`) from tests/conftest.py."""
