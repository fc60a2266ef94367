"""scripts/ stays in order: folders that say what they hold, modules run from the root, apart from the tests.

These read the scripts as text, and run them only in a child process: no test
imports a script.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
FOLDERS = ["benchmarks", "models", "tools", "training"]


def _scripts() -> list[Path]:
    return sorted(p for p in SCRIPTS.rglob("*.py") if "__pycache__" not in p.parts)


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (``from a import b`` gives a and a.b)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_every_script_lives_in_a_folder_that_says_what_it_holds():
    assert [p.name for p in SCRIPTS.glob("*.py")] == ["__init__.py"]
    folders = sorted(d.name for d in SCRIPTS.iterdir() if d.is_dir() and d.name != "__pycache__")
    assert folders == FOLDERS
    assert all((SCRIPTS / folder / "__init__.py").is_file() for folder in FOLDERS)


def test_no_script_edits_sys_path_or_imports_the_tests():
    for path in _scripts():
        assert "sys.path" not in path.read_text(encoding="utf-8"), path
        assert not _within(_imports(path), "tests"), path


def test_no_test_imports_a_script():
    for path in sorted(ROOT.joinpath("tests").rglob("*.py")):
        assert not _within(_imports(path), "scripts"), path


def test_the_readme_lists_every_script():
    readme = (SCRIPTS / "README.md").read_text(encoding="utf-8")
    for path in _scripts():
        if path.name != "__init__.py":
            assert f"python -m {_module(path)}" in readme or f"`{path.name}`" in readme, path


def test_the_scripts_without_tensorflow_or_torch_import_as_modules_from_the_root():
    # catches a script left behind by a move or a rename in the package
    by_name = {_module(p): p for p in _scripts()}

    def heavy(name: str, seen: set[str]) -> bool:
        seen.add(name)
        found = _imports(by_name[name])
        if _within(found, "tensorflow") or _within(found, "torch"):
            return True
        return any(heavy(m, seen) for m in found if m in by_name and m not in seen)

    light = [name for name in by_name if not heavy(name, set())]
    assert "scripts.models.zoo" in light and "scripts.benchmarks.bench" in light
    code = "import importlib\nfor name in %r:\n    importlib.import_module(name)\n" % light
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_the_arena_tests_lifetime_sets_are_what_their_generator_writes():
    proc = subprocess.run([sys.executable, "-m", "scripts.models.make_arena_cases", "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
