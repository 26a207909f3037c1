"""The docs test itself: it reads the marks as docs/contributing.md says, and it fails a page
whose commands do not do what the page shows. Each test writes a small page and follows it with
a real bash session, as `test_examples` follows the docs."""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from tests.docs.markdown_examples import (
    Block,
    Command,
    MarkError,
    PythonScript,
    SavedFile,
    examples,
    mark,
    match_output,
)
from tests.docs.reader import ExampleFailed, Reader
from tests.docs.test_examples import reader_environment

PYTHON = shlex.quote(sys.executable)


def page(tmp_path: Path, markdown: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(textwrap.dedent(markdown).replace("PYTHON", PYTHON), encoding="utf-8")
    return path


def follow(tmp_path: Path, markdown: str, timeout: float = 60.0) -> None:
    """Run a page as the docs test runs a document."""
    directory = tmp_path / "reader"
    directory.mkdir()
    env = reader_environment(directory, tmp_path)
    with Reader(directory, tmp_path / "logs", env, timeout=timeout) as reader:
        for example in examples(page(tmp_path, markdown)):
            if isinstance(example, SavedFile):
                reader.save(example)
            elif isinstance(example, Command | PythonScript):
                reader.run(example)


@pytest.mark.parametrize(
    ("marks", "language"),
    [
        ("no-run", "sh"),
        ("no-run:", "python"),
        ("rnu", "sh"),
        ("run", "json"),
        ("file=../x", "toml"),
    ],
)
def test_a_mark_the_convention_does_not_know_is_refused(marks: str, language: str) -> None:
    with pytest.raises(MarkError):
        mark(Block(Path("page.md"), 1, language, marks, "true"))


def test_a_console_block_gives_each_command_the_lines_below_it_and_its_comment(
    tmp_path: Path,
) -> None:
    markdown = r"""
        ```console run
        $ echo '# exits 3' \
            done
        # exits 3 done
        $ false   # exits 1: it says no
        $ server &   # serves
        $ watcher   # a table until Ctrl-C
        ```
        """

    found = [e for e in examples(page(tmp_path, markdown)) if isinstance(e, Command)]

    assert [(c.where, c.text.split()[0], c.expected_exit) for c in found] == [
        ("page.md:3", "echo", 0),
        ("page.md:6", "false", 1),
        ("page.md:7", "server", 0),
        ("page.md:8", "watcher", 0),
    ]
    assert found[0].expected_output == ("# exits 3 done",)
    assert (found[2].background, found[3].until_interrupted) == (True, True)


def test_what_a_python_example_prints_is_read_from_its_print_comments(tmp_path: Path) -> None:
    markdown = """
        ```python run
        x = 1  # not output
        print(x)  # 1
        for y in (2, 3):
            print(y)
        # 2
        # 3

        # a note, not output
        ```
        """

    [script] = examples(page(tmp_path, markdown))

    assert isinstance(script, PythonScript)
    assert script.expected_output == ("1", "2", "3")


def test_ellipses_and_spacing_match_any_text_but_the_order_counts() -> None:
    output = "header\nacme    weather   SUCCEEDED  12-02\nfooter\n"

    assert match_output(("acme weather ... 12-02", "...", "footer"), output) is None
    assert match_output(("footer", "header"), output) == "header"
    assert match_output(("acme weather FAILED ...",), output) == "acme weather FAILED ..."


def test_exports_directories_and_saved_files_carry_over_to_later_blocks(tmp_path: Path) -> None:
    follow(
        tmp_path,
        """
        ```sh run
        export GREETING=hello
        mkdir -p sub && cd sub
        ```

        ```console run
        $ echo $GREETING $(basename $PWD) $(cat ../note.txt)
        hello sub kept
        ```

        ```python run
        import os
        print(os.environ["GREETING"], os.getcwd().endswith("sub"))  # hello True
        ```

        ```text file=note.txt
        kept
        ```
        """,
    )


@pytest.mark.parametrize(
    ("markdown", "reason"),
    [
        ("```sh run\nfalse\n```", "page.md:2: exited 1, 0 expected"),
        ("```sh run\nsh -c 'exit 3'   # exits 2\n```", "page.md:2: exited 3, 2 expected"),
        ("```console run\n$ echo hello\ngoodbye\n```", "page.md:2: the output has no line"),
        ("```python run\nprint('hello')  # goodbye\n```", "page.md:1: the output has no line"),
        ("```sh run\necho 'unclosed\n```", "page.md:2: not valid shell"),
        ("```sh run\npython3 dev.py test\n```", "page.md:2: dev.py would run the test suite"),
    ],
    ids=["failure", "other-exit", "shell-output", "python-output", "syntax", "dev-py"],
)
def test_a_page_whose_command_does_not_do_what_it_shows_fails(
    tmp_path: Path, markdown: str, reason: str
) -> None:
    with pytest.raises(ExampleFailed) as failed:
        follow(tmp_path, markdown)

    assert str(failed.value).startswith(reason)


def test_a_background_server_serves_later_commands_and_is_stopped_with_ctrl_c(
    tmp_path: Path,
) -> None:
    follow(
        tmp_path,
        """
        ```python file=client.py
        import os, urllib.request
        print(urllib.request.urlopen("http://127.0.0.1:" + os.environ["PORT"]).status)
        ```

        ```console run
        $ PYTHON -u -m http.server --bind 127.0.0.1 $PORT &
        $ PYTHON client.py
        200
        ```
        """,
    )


def test_a_command_that_runs_until_ctrl_c_is_interrupted_once_it_speaks(tmp_path: Path) -> None:
    follow(
        tmp_path,
        """
        ```python file=wait.py
        import time

        try:
            print("ready", flush=True)
            time.sleep(600)
        except KeyboardInterrupt:
            print("stopped")
        ```

        ```console run
        $ PYTHON wait.py   # waits until Ctrl-C
        ready
        stopped
        ```
        """,
    )


def test_a_command_that_never_answers_fails_instead_of_hanging(tmp_path: Path) -> None:
    with pytest.raises(ExampleFailed, match="no answer"):
        follow(tmp_path, "```sh run\nsleep 600\n```", timeout=0.5)
