"""The folder tree is the architecture (docs/architecture.md): each group of the core imports only the groups
below it, tabs import no torch, nothing in scripts/ imports a tab, and no module or function outgrows its size."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "resnet_demo"
ORDER = ("base", "nets", "serving", "experiments", "views", "ui")  # bottom to top
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60
LONG_OK = "Long because"  # a function over the limit says why in its docstring


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Every resnet_demo module or package ``path`` imports (absolute names), at any depth of the file."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{name}.{a.name}" for a in node.names} | {name}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {n for n in found if n.startswith("resnet_demo")}


def _group(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ORDER else None


def test_each_group_imports_only_the_groups_below_it():
    wrong = []
    for path in _modules(PACKAGE):
        mine = _group(".".join(path.relative_to(ROOT).with_suffix("").parts))
        if mine is None:
            continue
        for name in _imports(path):
            theirs = _group(name)
            if theirs is not None and ORDER.index(theirs) > ORDER.index(mine):
                wrong.append(f"{path.relative_to(ROOT)} ({mine}) imports {name} ({theirs})")
    assert not wrong, "\n".join(wrong)


def test_the_groups_are_folders_and_the_core_has_no_loose_modules():
    assert sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py") == ["__init__.py"]
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")} == {*ORDER, "testing"}


def test_tabs_import_no_torch_and_scripts_import_no_tab():
    for path in _modules(PACKAGE / "ui"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in ("torch", "torchvision")}, path
    for path in _modules(ROOT / "scripts"):  # (benchmarks may: some time a tab as a visitor's request runs it)
        assert not {n for n in _imports(path) if n.startswith("resnet_demo.ui")}, path


def test_no_module_over_400_lines_and_no_function_over_60_unless_it_says_why():
    long_modules, long_functions = [], []
    for path in _modules(PACKAGE) + _modules(ROOT / "scripts") + [ROOT / "app.py"]:
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES and LONG_OK not in (ast.get_docstring(node) or ""):
                    long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    assert not long_modules and not long_functions, "\n".join(long_modules + long_functions)
