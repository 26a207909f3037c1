"""A dataset's layout rule: which table each gathered file feeds, read from the file's name.

A bulk download is a pile of files whose names say what they hold (``FFIEC CDR Call Schedule
RCB 03312026(1 of 2).txt``); the upload stage puts each into the folder of the table it feeds,
``raw/{dataset}/{period}/{table}/``, so the folder name is all a processing job needs. The rule
is declarative, a regular expression over the name and a table template over its groups, so a
connector's author writes it in the template rather than in code, and every stage reads the
same rule. A name the rule does not read is refused, not guessed: a file that lands in the
wrong table is worse than a run that stops and names the file. Files that are never data (a
readme) are listed as ``ignore`` globs.

>>> rule = FileTables(r"Schedule (?P<schedule>[A-Z]+) [0-9]{8}(?:\\([0-9] of [0-9]\\))?\\.txt",
...                   "call_{schedule}")
>>> rule.table_of("Schedule RCB 03312026(1 of 2).txt")
'call_rcb'
"""

from __future__ import annotations

import fnmatch
import re

from attrs import field, frozen

from overlord.domain.errors import InvalidInput, InvalidName, InvalidTemplate
from overlord.domain.manifests import check_table

_MAX_PATTERN = 1000


def _compile(pattern: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern or len(pattern) > _MAX_PATTERN:
        raise InvalidTemplate(f"pattern: expected a regular expression of 1-{_MAX_PATTERN} chars")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidTemplate(f"pattern {pattern[:80]!r}: {exc}") from None


@frozen
class FileTables:
    """``pattern`` must match a whole file name; ``table`` fills ``{group}`` placeholders from
    its named groups and is lower-cased, so ``RCB`` and ``rcb`` feed one table."""

    pattern: str
    table: str
    ignore: tuple[str, ...] = ()
    _regex: re.Pattern[str] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        regex = _compile(self.pattern)
        object.__setattr__(self, "_regex", regex)
        groups = set(regex.groupindex)
        try:
            example = self.table.format(**dict.fromkeys(groups, "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidTemplate(
                f"table {self.table!r}: use only the pattern's named groups "
                f"({', '.join(sorted(groups)) or 'it has none'}) as placeholders ({exc})"
            ) from None
        try:
            check_table(example.lower())
        except InvalidInput:
            raise InvalidTemplate(
                f"table {self.table!r}: must make a lower-case identifier such as call_rcb"
            ) from None
        for glob in self.ignore:
            if not isinstance(glob, str) or not glob or "/" in glob:
                raise InvalidTemplate(f"ignore: {glob!r} is not a file name glob")

    def ignored(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, glob) for glob in self.ignore)

    def table_of(self, name: str) -> str:
        """The table ``name`` feeds; `InvalidName` saying what was expected when the rule does
        not read it (check `ignored` first for files that are not data)."""
        match = self._regex.fullmatch(name)
        if match is None:
            raise InvalidName(
                f"the file {name[:120]!r} is not named as this dataset's files are "
                f"(pattern {self.pattern[:120]!r}); list it under files.ignore if it is no data"
            )
        values = {key: value or "" for key, value in match.groupdict().items()}
        table = self.table.format(**values).lower()
        try:
            return check_table(table)
        except InvalidInput:
            raise InvalidName(
                f"the file {name[:120]!r} would feed the table {table[:80]!r}, "
                "which is not a lower-case identifier"
            ) from None
