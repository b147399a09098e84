"""The package's import rules, read statically: the core never imports `shapeworld`, losses are pure functions
of their own, backbones import no method."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.paths import REPO

ROOT = REPO
PACKAGE = ROOT / "lightning_csr"
# the CLI layer and the testbed may import anything; everything else is the core
NOT_CORE = ("lightning_csr/shapeworld/", "lightning_csr/commands/", "lightning_csr/cli.py")
METHOD_PACKAGES = ("modules", "losses", "rewards", "generation", "callbacks", "data", "evaluation")
NOT_FOR_BACKBONES = tuple(
    f"lightning_csr.{name}" for name in (*METHOD_PACKAGES, "commands", "cli", "shapeworld")
)


def module_name(path: Path, root: Path = ROOT) -> str:
    """`lightning_csr/a/b.py` -> `lightning_csr.a.b` (a package's `__init__.py` -> the package)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in a file: `import`, `from ... import` (relative ones resolved,
    `from pkg import sub` also as `pkg.sub`) and `importlib.import_module("...")` / `__import__("...")`."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def violations(
    files: list[Path], forbidden: tuple[str, ...], allowed: tuple[str, ...] = (), root: Path = ROOT
) -> list[str]:
    """`file:line: imports module`, once a line, for every import of a `forbidden` module (or below it) not `allowed`."""

    def under(module: str, packages: tuple[str, ...]) -> bool:
        return any(module == package or module.startswith(package + ".") for package in packages)

    found: dict[str, str] = {}
    for path in files:
        for line, module in imports(path, root):
            if under(module, forbidden) and not under(module, allowed):
                place = f"{path.relative_to(root)}:{line}"
                found[place] = min(found.get(place, module), module, key=len)  # `from a import b`: a, not a.b
    return [f"{place}: imports {module}" for place, module in sorted(found.items())]


def package_files(*folder: str) -> list[Path]:
    files = sorted(PACKAGE.joinpath(*folder).rglob("*.py"))
    assert files, f"no Python files under {PACKAGE.joinpath(*folder)}"
    return files


def core_files() -> list[Path]:
    return [p for p in package_files() if not str(p.relative_to(ROOT)).startswith(NOT_CORE)]


def test_the_core_never_imports_shapeworld() -> None:
    found = violations(core_files(), ("lightning_csr.shapeworld",))
    assert not found, (
        "the core imports the ShapeWorld testbed (move the piece or invert the call):\n" + "\n".join(found)
    )


def test_losses_import_nothing_of_the_package_but_losses() -> None:
    found = violations(package_files("losses"), ("lightning_csr",), allowed=("lightning_csr.losses",))
    assert not found, "losses must stay pure functions of their own:\n" + "\n".join(found)


def test_backbones_import_no_method() -> None:
    found = violations(package_files("backbones"), NOT_FOR_BACKBONES)
    assert not found, "backbones must not depend on methods, the CLI or the testbed:\n" + "\n".join(found)


def test_the_reader_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rules above can only fail if the reader finds imports written in each form."""
    package = tmp_path / "lightning_csr" / "evaluation"
    package.mkdir(parents=True)
    source = package / "probe.py"
    source.write_text(
        "import lightning_csr.shapeworld.world\n"
        "from lightning_csr import shapeworld\n"
        "from ..shapeworld.povid import world_vocabulary\n"
        "def late():\n"
        "    import importlib\n"
        "    importlib.import_module('lightning_csr.shapeworld.evaluation.benchmark')\n"
    )
    found = violations([source], ("lightning_csr.shapeworld",), root=tmp_path)
    assert found == [
        "lightning_csr/evaluation/probe.py:1: imports lightning_csr.shapeworld.world",
        "lightning_csr/evaluation/probe.py:2: imports lightning_csr.shapeworld",
        "lightning_csr/evaluation/probe.py:3: imports lightning_csr.shapeworld.povid",
        "lightning_csr/evaluation/probe.py:6: imports lightning_csr.shapeworld.evaluation.benchmark",
    ]
    assert len(core_files()) > 50 and not any("shapeworld" in str(p) for p in core_files())
