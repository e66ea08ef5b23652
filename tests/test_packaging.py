"""The distribution installs every top-level folder under the one ``hotline`` namespace."""

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_python_folder_is_a_listed_package() -> None:
    config = _setuptools_config()
    listed = set(config["packages"])
    for package, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            name = ".".join([package, *relative.parts])
            assert name in listed, f"{init.parent} is not in pyproject's packages list"


def test_listed_packages_import_from_their_folders() -> None:
    config = _setuptools_config()
    for package, folder in config["package-dir"].items():
        module = importlib.import_module(package)
        assert Path(module.__file__).parent == ROOT / folder


def test_nothing_generic_at_the_top_of_site_packages() -> None:
    for generic in ("schemas", "streams", "sinks", "producers", "dashboards", "infra"):
        try:
            module = importlib.import_module(generic)
        except ModuleNotFoundError:
            continue
        raise AssertionError(f"top-level module {generic!r} importable from {module.__file__}")
