"""Fixtures for the domain tests: a score board the corpus tests report through.

The libical and recurring-ical-events comparisons print their scores ("libical vectors: N/M
match") in pytest's terminal summary, so they show with or without ``-s``.
"""

from __future__ import annotations

from collections import Counter

import pytest

_LINES = pytest.StashKey[list[str]]()
_TALLIES = pytest.StashKey[dict[str, Counter[str]]]()


@pytest.fixture(scope="session")
def score_lines(pytestconfig: pytest.Config) -> list[str]:
    """Lines to print in the terminal summary."""
    return pytestconfig.stash.setdefault(_LINES, [])


@pytest.fixture(scope="session")
def tallies(pytestconfig: pytest.Config) -> dict[str, Counter[str]]:
    """Named counters (outcome -> count) printed in the terminal summary, one line each."""
    return pytestconfig.stash.setdefault(_TALLIES, {})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    stored: list[str] = config.stash[_LINES] if _LINES in config.stash else []
    lines = list(stored)
    tallies = config.stash[_TALLIES] if _TALLIES in config.stash else {}
    for name, counter in sorted(tallies.items()):
        lines.append(f"{name}: " + ", ".join(f"{count} {outcome}" for outcome, count in counter.most_common()))
    if lines:
        terminalreporter.section("corpus scores")
        for line in lines:
            terminalreporter.write_line(line)
