"""The examples of a Markdown document, and what each one says about how it runs.

Docs drift when nothing runs them. The convention (docs/contributing.md) is written where
GitHub does not show it — after a fence's language, which only the first word of picks the
highlighting — so the rendered page reads as before:

- ```` ```sh run ````, ```` ```console run ````, ```` ```python run ````: run as written;
- ```` ```sh no-run: REASON ````: never run, and the reason says why;
- ```` ```sh aws-endpoint ````: starts a local AWS API; the tests use their own moto server;
- ```` ```toml file=NAME ````: a file the reader saves as NAME before running anything.

This module only reads; `tests.docs.reader` runs what it finds.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from attrs import evolve, frozen

SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
PYTHON_LANGUAGES = frozenset({"python", "py"})
EXAMPLE_LANGUAGES = SHELL_LANGUAGES | PYTHON_LANGUAGES

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_EXITS = re.compile(r"^exits (?P<code>\d+)\b")
_UNTIL_INTERRUPTED = "until Ctrl-C"


class MarkError(ValueError):
    """A fence whose marks the convention does not allow."""


@frozen
class Block:
    """One fenced block: where it opens, its language, the marks after it, its text."""

    path: Path
    line: int
    language: str
    marks: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


@frozen
class Command:
    """One shell command line (continuation lines joined), as a reader types it."""

    where: str
    text: str
    expected_exit: int = 0
    background: bool = False
    until_interrupted: bool = False
    expected_output: tuple[str, ...] = ()


@frozen
class PythonScript:
    """A Python example, run as a script; ``expected_output`` from its ``print`` comments."""

    where: str
    text: str
    expected_output: tuple[str, ...] = ()


@frozen
class SavedFile:
    """A file shown in the document, saved under ``name`` before anything runs."""

    where: str
    name: str
    text: str


@frozen
class AwsEndpoint:
    """The step that starts a local AWS API and points AWS clients at it."""

    where: str


Example = Command | PythonScript | SavedFile | AwsEndpoint


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the document, in order (an unclosed fence runs to the end)."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        info = opening["info"].strip()
        language, _, marks = info.partition(" ")
        body: list[str] = []
        start, index = index + 1, index + 1
        while index < len(lines) and not _closes(lines[index], fence):
            line = lines[index]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))) :])
            index += 1
        found.append(Block(path, start, language.lower(), marks.strip(), "\n".join(body)))
        index += 1
    return found


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def mark(block: Block) -> str:
    """The block's mark: ``run``, ``no-run``, ``aws-endpoint``, ``file`` or ``""`` (none).

    Raises `MarkError` for a mark the convention does not know, a ``no-run`` without a reason,
    or a mark on a block of the wrong kind.
    """
    marks = block.marks
    if not marks:
        return ""
    if marks == "run" or marks == "aws-endpoint":
        if block.language not in EXAMPLE_LANGUAGES:
            raise MarkError(f"{block.where}: only shell and Python examples can be {marks!r}")
        if marks == "aws-endpoint" and block.language not in SHELL_LANGUAGES:
            raise MarkError(f"{block.where}: 'aws-endpoint' marks a shell block")
        return marks
    if marks.startswith("no-run"):
        reason = marks.removeprefix("no-run").removeprefix(":").strip()
        if not marks.startswith("no-run:") or not reason:
            raise MarkError(f"{block.where}: say why it does not run: 'no-run: REASON'")
        return "no-run"
    if marks.startswith("file="):
        name = marks.removeprefix("file=")
        if not name or name.startswith("/") or ".." in Path(name).parts:
            raise MarkError(f"{block.where}: file= needs a relative path, not {name!r}")
        return "file"
    raise MarkError(
        f"{block.where}: unknown mark {marks!r} (run, no-run: REASON, aws-endpoint, file=NAME)"
    )


def examples(path: Path) -> list[Example]:
    """What the document asks a reader to do, in order; saved files come first."""
    saved: list[Example] = []
    steps: list[Example] = []
    for block in blocks(path):
        kind = mark(block)
        if kind == "file":
            name = block.marks.removeprefix("file=")
            saved.append(SavedFile(block.where, name, block.text + "\n"))
        elif kind == "aws-endpoint":
            steps.append(AwsEndpoint(block.where))
        elif kind == "run" and block.language in PYTHON_LANGUAGES:
            steps.append(PythonScript(block.where, block.text, printed(block.text)))
        elif kind == "run":
            steps.extend(commands(block))
    names = [example.name for example in saved if isinstance(example, SavedFile)]
    if len(set(names)) != len(names):
        raise MarkError(f"{path.name}: a file= name is used twice")
    return saved + steps


def commands(block: Block) -> list[Command]:
    """The commands of a shell block; in a ``console`` block, ``$ `` lines and their output."""
    console = block.language == "console"
    lines = block.text.split("\n")
    found: list[Command] = []
    index = 0
    while index < len(lines):
        number, line = block.line + 1 + index, lines[index]
        index += 1
        if console and not line.startswith("$ "):
            if line.strip() and not found:
                raise MarkError(f"{block.path.name}:{number}: output before any '$ ' command")
            if line.strip():
                last = found[-1]
                found[-1] = evolve(last, expected_output=(*last.expected_output, line))
            continue
        text = line[2:] if console else line
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        while text.endswith("\\") and index < len(lines):
            text += "\n" + lines[index]
            index += 1
        found.append(command(f"{block.path.name}:{number}", text))
    return found


def command(where: str, text: str) -> Command:
    """A command with what its trailing comment says: ``# exits N``, ``until Ctrl-C``."""
    start = comment_start(text)
    code = text[:start].rstrip() if start is not None else text.rstrip()
    note = text[start + 1 :].strip() if start is not None else ""
    exits = _EXITS.match(note)
    background = code.endswith("&") and not code.endswith("&&")
    return Command(
        where,
        text,
        expected_exit=int(exits["code"]) if exits else 0,
        background=background,
        until_interrupted=not background and _UNTIL_INTERRUPTED in note,
    )


def comment_start(text: str) -> int | None:
    """Index of the ``#`` that starts the shell comment ending ``text``, if there is one."""
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'":
            index += 2
            continue
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n"):
            return index
        index += 1
    return None


def printed(source: str) -> tuple[str, ...]:
    """What a Python example says it prints: the comment ending a ``print(...)`` line, and the
    comment lines right below one."""
    lines = source.split("\n")
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.removeprefix("#").strip()
    expected: list[str] = []
    after_print = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("print("):
            after_print = True
            if number in comments:
                expected.append(comments[number])
        elif after_print and stripped.startswith("#"):
            expected.append(comments[number])
        else:
            after_print = False
    return tuple(expected)


def match_output(expected: tuple[str, ...], output: str) -> str | None:
    """None when every expected line is a line of ``output``, in order; else the first expected
    line not found. ``...`` matches any text (a line of its own: any lines), and a run of white
    space matches any other, so a table row matches whatever its column widths."""
    lines = [_spaces(line) for line in output.splitlines()]
    position = 0
    for wanted in expected:
        if wanted.strip() == "...":
            continue  # any lines, or none: the lines around it are matched in order anyway
        parts = [re.escape(part.strip()) for part in _spaces(wanted).split("...")]
        pattern = re.compile(".*".join(parts))
        while position < len(lines) and not pattern.fullmatch(lines[position]):
            position += 1
        if position == len(lines):
            return wanted
        position += 1
    return None


def _spaces(text: str) -> str:
    return " ".join(text.split())
