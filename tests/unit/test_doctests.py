"""Every example in a docstring runs and prints what it shows.

Examples that need a cloud account carry ``# doctest: +SKIP`` and are read, not run; a module
whose every example is skipped is left out of the parametrisation rather than reported as a
passing test.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import overlord


def _modules_with_examples() -> list[str]:
    finder = doctest.DocTestFinder()
    found = []
    for info in pkgutil.walk_packages(overlord.__path__, "overlord."):
        if info.name.endswith(".__main__"):
            continue  # runs its program on import
        module = importlib.import_module(info.name)
        tests = finder.find(module)
        if any(
            not example.options.get(doctest.SKIP) for test in tests for example in test.examples
        ):
            found.append(info.name)
    return sorted(found)


@pytest.mark.parametrize("name", _modules_with_examples())
def test_the_docstring_examples_of_a_module_hold(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=True
    )

    assert result.attempted > 0
    assert result.failed == 0
