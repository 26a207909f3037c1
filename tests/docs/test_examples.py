"""Every example in README.md and docs/*.md runs as written, so no page can drift from the code.

Each document is read by one `Reader`: a bash session in a fresh directory of its own, on the
local profile (``OVERLORD_HOME`` inside that directory), where ``.venv`` links to the virtual
environment running the tests and its ``bin`` leads ``PATH`` — what a reader has after
``python3 dev.py quickstart`` and ``. .venv/bin/activate``. ``TMPDIR`` is a folder of the test's
own, removed after it, so ``$(mktemp -d)`` in a document leaves nothing behind, and ``PORT``
names a free port for a document's server. A document with an ``aws-endpoint`` block gets the
test suite's moto server (`tests.conftest.moto_endpoint`) in its place. The convention is in
docs/contributing.md.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.markdown_examples import (
    EXAMPLE_LANGUAGES,
    AwsEndpoint,
    MarkError,
    SavedFile,
    blocks,
    examples,
    mark,
)
from tests.docs.reader import Reader

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


def _runnable(path: Path) -> bool:
    try:
        return any(not isinstance(example, SavedFile) for example in examples(path))
    except MarkError:
        return True  # its test fails naming the mark, rather than the collection of all of them


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A short-named ``TMPDIR``: Chromium keeps its singleton socket under it, and a Unix
    socket's path cannot pass 107 bytes, which a folder under pytest's ``tmp_path`` soon does."""
    path = Path(tempfile.mkdtemp(prefix="overlord-docs-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def reader_environment(directory: Path, scratch: Path) -> dict[str, str]:
    """The test's environment without OVERLORD_* and AWS_* settings: a reader's fresh terminal
    in ``directory``, with the project's virtual environment active."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERLORD_", "AWS_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        PATH=f"{directory / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        OVERLORD_HOME=str(directory / ".overlord"),
        TMPDIR=str(scratch),
        PORT=str(_free_port()),
    )
    return env


def test_every_shell_and_python_example_says_whether_it_runs() -> None:
    unmarked, refused = [], []
    for path in DOCUMENTS:
        for block in blocks(path):
            try:
                kind = mark(block)
            except MarkError as error:
                refused.append(str(error))
                continue
            if block.language in EXAMPLE_LANGUAGES and not kind:
                unmarked.append(f"{block.where}: ```{block.language}")

    assert refused == []
    assert unmarked == [], "mark these 'run' or 'no-run: REASON' (see docs/contributing.md)"


@pytest.mark.long
@pytest.mark.parametrize(
    "document",
    [path for path in DOCUMENTS if _runnable(path)],
    ids=lambda path: path.relative_to(ROOT).as_posix(),
)
def test_the_examples_of_a_document_run_as_written(
    document: Path, tmp_path: Path, scratch: Path, request: pytest.FixtureRequest
) -> None:
    directory = tmp_path / "reader"
    directory.mkdir()
    assert sys.prefix != sys.base_prefix, "run the tests in the project's virtual environment"
    (directory / ".venv").symlink_to(sys.prefix, target_is_directory=True)

    with Reader(directory, tmp_path / "logs", reader_environment(directory, scratch)) as reader:
        for example in examples(document):
            if isinstance(example, SavedFile):
                reader.save(example)
            elif isinstance(example, AwsEndpoint):
                request.getfixturevalue("moto_endpoint")
                reader.export({k: os.environ[k] for k in AWS_VARIABLES})
            else:
                reader.run(example)
