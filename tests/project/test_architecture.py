"""The layers as the README's architecture section draws them, checked on the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from trades import queues

ROOT = Path(__file__).resolve().parents[2]


def python_files(package: str) -> list[Path]:
    return [path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts]


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_the_app_never_imports_the_project():
    """Celery's Django guide: a reusable app does not depend on the project (it uses current_app)."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "flowsite")
        for path in python_files("trades")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_domain_imports_no_django_and_nothing_outside_the_domain():
    for path in python_files("trades/domain"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in {"django", "celery", "kombu", "flowsite"}, (path, module)
            assert top != "trades" or module.startswith("trades.domain"), (path, module)


def test_task_names_are_written_once():
    """trades/queues.py names every task; everything else uses its constants."""
    task_names = {value for name, value in vars(queues).items() if name.isupper() and isinstance(value, str)}
    task_names = {value for value in task_names if value.startswith("trades.")}
    written = re.compile("|".join(re.escape(f'"{name}"') for name in task_names))
    elsewhere = [
        str(path.relative_to(ROOT))
        for package in ("trades", "flowsite")
        for path in python_files(package)
        if path.name != "queues.py" and written.search(path.read_text())
    ]
    assert elsewhere == []
    assert set(queues.ROUTES) == task_names, "every task has its queue"


def test_the_local_feed_stands_apart_from_the_product():
    """The feed plays Polygon: it may use the pure domain (OCC symbols, the calendar), not the product."""
    for path in python_files("trades/feed"):
        for module in imported_modules(path):
            if module.split(".")[0] == "trades":
                assert module.startswith(("trades.domain", "trades.feed")), (path, module)


FACES = (
    "trades.api",
    "trades.views",
    "trades.health",
    "trades.admin",
    "trades.forms",
    "trades.management",
    "trades.tasks",
    "trades.assistant",
)


def test_services_and_selectors_never_import_the_faces():
    """Pages, the API, admin, commands and tasks call services (writes) and selectors (reads), never the reverse."""
    for package in ("trades/services", "trades/selectors"):
        for path in python_files(package):
            for module in imported_modules(path):
                assert not module.startswith(FACES), (path, module)


def test_tests_share_helpers_through_helper_modules_not_through_each_other():
    """Shared builders live in tests/factories.py and the *_helpers modules, not in another test file."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.rsplit(".", 1)[-1].startswith("test_")
        )
        for path in (ROOT / "tests").rglob("test_*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
