"""The probe package stays readable in one sitting per function (issue 16): no function or
method over 80 lines, and the CLI a thin layer under 400 lines. ruff's complexity limit
(pyproject.toml, `make lint`) keeps their branches few; this keeps them short."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGE = ROOT / "probes"
MAX_FUNCTION_LINES = 80
MAX_CLI_LINES = 400


def functions(path: Path) -> list[tuple[str, int, int]]:
    """(qualified name, first line, lines) of every function and method in a module, nested
    ones too; a function's lines run from its ``def`` to its last statement."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                assert child.end_lineno is not None
                found.append((name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), filename=str(path)), "")
    return found


def test_the_measure_counts_a_function_from_def_to_its_last_line(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("class A:\n    def f(self):\n        x = 1\n\n        return x\n\n\n"
                      "def g():\n    def h():\n        pass\n    return h\n")
    assert functions(module) == [("A.f", 2, 4), ("g", 8, 4), ("g.h", 9, 2)]


def test_no_function_in_the_package_is_over_80_lines():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20  # the package, not an empty folder
    long = [f"{path.relative_to(ROOT)}:{line} {name} ({lines} lines)"
            for path in modules for name, line, lines in functions(path) if lines > MAX_FUNCTION_LINES]
    assert not long, "split these functions:\n" + "\n".join(long)


def test_the_cli_is_under_400_lines():
    lines = len((PACKAGE / "cli.py").read_text().splitlines())
    assert lines < MAX_CLI_LINES, f"probes/cli.py has {lines} lines: move what is not argument handling out"
