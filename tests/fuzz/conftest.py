"""The corpus and its case tables are loaded by ``test_corpus*.py`` (by path), not collected themselves."""

collect_ignore_glob = ["corpus.py", "cases_*.py"]
