import os

# The suite runs the analysis as Python, so that call-counting tests see Python functions;
# tests/analysis/test_native.py compares the compiled build's outputs with the source's.
os.environ.setdefault("DIAGNOSIS_NATIVE_ANALYSIS", "0")

import pytest

# tests.databases: the `make_database_url` factory, on SQLite and PostgreSQL (parametrized);
# tests.redis_service: `redis_space` (a key prefix of its own on the real Redis).
pytest_plugins = ["tests.fake_openai", "tests.databases", "tests.redis_service"]

# Lines a test wants shown at the end of the run (e.g. the extractor's scores), even when
# output is captured.
SUMMARY_KEY = pytest.StashKey[list[str]]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lines = config.stash.get(SUMMARY_KEY, [])
    if lines:
        terminalreporter.section("scores")
        for line in lines:
            terminalreporter.write_line(line)
