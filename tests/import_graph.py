"""What a tree of Python modules imports, read from the source (functions included, so lazy
imports count), for tests that hold a package to what it ships with: the Lambda zip, the job
image. Imports under ``if TYPE_CHECKING:`` never run and are left out."""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def imports_of(path: Path, package: str) -> set[str]:
    """Every module name ``path`` imports; for ``from a import b``, both ``a`` and ``a.b``
    (``b`` may be a module or a name). ``package`` is the file's package, for relative
    imports."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def module_file(root: Path, name: str) -> Path | None:
    """The file of module ``name`` under the folder ``root`` (which holds ``overlord/``)."""
    path = root.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def package_of(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1])


def reachable(root: Path, start: str, own: str = "overlord") -> tuple[set[str], set[str]]:
    """The ``own`` modules under ``root`` that importing ``start`` can import (with every
    function that imports lazily called), and the other top-level names they import, the
    standard library's left out."""
    todo, seen, others = [start], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(root, name)
        if path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents run first
        for imported in imports_of(path, package_of(root, path)):
            top = imported.split(".")[0]
            if top == own:
                holder = imported if module_file(root, imported) else imported.rpartition(".")[0]
                todo.append(holder)
            elif top and top not in sys.stdlib_module_names:
                others.add(top)
    return seen, others
