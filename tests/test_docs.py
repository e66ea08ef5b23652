"""README.md and docs/*.md say what the code does: every ``hotline …`` command line names real
sub-commands and options, every ``HOTLINE_…`` variable is a setting (or the compose file's,
a bench's or a test's own), and the tables of defaults and kinds list the code's. Pure."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner

from hotline.cli import app
from hotline.producers.gateway.app import REJECTION_KINDS
from hotline.settings import Settings
from hotline.streams.config import AlertsConfig, StreamsConfig

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: A line (or inline span) that runs ``hotline``: after ``$ ``, ``time `` or VAR=value.
_RUNS_HOTLINE = re.compile(r"^(?:\$\s+)?(?:time\s+)?(?:[A-Z_][A-Z0-9_]*=\S+\s+)*hotline\s+(.*)$")


def _where(path: Path, text: str, offset: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, offset) + 1}"


def hotline_command_lines() -> Iterator[tuple[str, str]]:
    """(where, arguments after ``hotline``) of every command line in a fenced block (joined
    across ``\\`` continuations, each part of a pipeline) and every inline code span that
    starts with ``hotline``."""
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in re.finditer(r"```[a-z]*\n(.*?)```", text, flags=re.S):
            body = block.group(1).replace("\\\n", " ")
            for number, line in enumerate(body.splitlines()):
                for part in line.split(" | "):
                    if found := _RUNS_HOTLINE.match(part.strip()):
                        where = _where(path, text, block.start(1)) + f"+{number}"
                        yield where, found.group(1)
        prose = re.sub(r"```.*?```", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
        for span in re.finditer(r"`([^`]+)`", prose):
            if found := _RUNS_HOTLINE.match(" ".join(span.group(1).split())):
                yield _where(path, prose, span.start()), found.group(1)


def _options(command: Any) -> dict[str, bool]:
    """Option name → whether it takes a value."""
    named = {"--help": False}
    for param in command.params:
        if param.param_type_name == "option":
            for name in param.opts:
                named[name] = not (param.is_flag or param.count)
            named.update(dict.fromkeys(param.secondary_opts, False))
    return named


def command_line_problems(arguments: str) -> list[str]:
    """What in ``hotline ARGUMENTS`` the CLI does not have: a sub-command of a group, or an
    option of the command. Placeholders (``FILE``, ``Y``), ``[optional]`` brackets, ``a|b``
    alternatives of sub-commands and a trailing ``…`` are the docs' notation."""
    try:
        tokens = shlex.split(arguments.replace("\\|", "|"), comments=True)
    except ValueError:  # an unbalanced quote of a shortened example
        tokens = arguments.split()
    root = typer.main.get_command(app)
    commands, problems, value_next = [root], [], False
    for token in (token.strip("[]") for token in tokens):
        if value_next:
            value_next = False
        elif token in ("…", "...") or not token:
            break
        elif token.startswith("-") and token != "-":
            name, has_value = token.split("=")[0], "=" in token
            for command in commands:
                options = _options(command) | _options(root)
                if name not in options:
                    problems.append(f"{command.name or 'hotline'} has no option {name}")
                value_next = value_next or (options.get(name, False) and not has_value)
        elif all(hasattr(command, "commands") for command in commands):
            chosen = token.split("|")
            problems += [
                f"{group.name or 'hotline'} has no sub-command {name}"
                for group in commands
                for name in chosen
                if name not in group.commands
            ]
            commands = [g.commands[n] for g in commands for n in chosen if n in g.commands]
            if not commands:
                break
    return problems


COMMAND_LINES = list(hotline_command_lines())


def test_the_docs_show_command_lines_of_every_group() -> None:
    seen = {arguments.split()[0] for _, arguments in COMMAND_LINES}
    assert seen >= set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("where", "arguments"), COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_every_hotline_command_line_in_the_docs_names_real_commands_and_options(
    where: str, arguments: str
) -> None:
    assert command_line_problems(arguments) == []


def test_the_command_line_check_finds_a_wrong_name() -> None:
    assert command_line_problems("stack up --no-init") == []
    assert command_line_problems("stack up\\|down\\|status --help") == []
    assert command_line_problems("report quality --year Y [--format html|pdf]") == []
    assert command_line_problems("stack start") == ["stack has no sub-command start"]
    assert command_line_problems("stack up|start") == ["stack has no sub-command start"]
    assert command_line_problems("sql --output x.csv 'SELECT 1'") == ["sql has no option --output"]


def _is_setting(name: str) -> bool:
    """``HOTLINE_A__B`` names a field of Settings (``streams``: of StreamsConfig)."""
    parts = name.removeprefix("HOTLINE_").lower().split("__")
    model: type[BaseModel] = Settings
    if parts[0] == "streams":
        model, parts = StreamsConfig, parts[1:]
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            model = field.annotation
        elif depth < len(parts) - 1:
            return False
    return True


#: Variables that are no setting, by design.
NOT_SETTINGS = {
    "HOTLINE_STREAMS__SERVICE_LEVEL": "docs/streams.md's example of an unknown name",
}


def test_every_hotline_variable_in_the_docs_is_a_setting_or_read_where_it_is_set() -> None:
    """Compose passes its own single-underscore variables on; benches and tests read theirs."""
    readers = [ROOT / "docker-compose.yml", *(ROOT / "bench").glob("*.py")]
    readers += [path for path in (ROOT / "tests").glob("*.py") if path.name != Path(__file__).name]
    read = "\n".join(path.read_text(encoding="utf-8") for path in readers)
    unknown = {
        f"{path.name}: {name}"
        for path in DOCS
        for name in re.findall(r"HOTLINE_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8"))
        if not _is_setting(name) and name not in NOT_SETTINGS and f"{name}" not in read
    }
    assert unknown == set()
    assert all(not _is_setting(name) for name in NOT_SETTINGS)


def test_the_variable_check_knows_a_wrong_name() -> None:
    assert _is_setting("HOTLINE_CLICKHOUSE__PORT")
    assert _is_setting("HOTLINE_STREAMS__ALERTS__RATES__CONNECTION")
    assert not _is_setting("HOTLINE_CLICKHOUSE__PORTS")
    assert not _is_setting("HOTLINE_STREAMS__SERVICE_LEVEL")


def test_the_gateways_rejection_kinds_are_the_ones_producers_md_lists() -> None:
    text = (ROOT / "docs" / "producers.md").read_text(encoding="utf-8")
    listed = re.search(r"counts each by kind — (.*?) — shown by", text, flags=re.S)
    assert listed is not None
    assert re.findall(r"`(\w+)`", listed.group(1)) == list(REJECTION_KINDS)


_UNITS = {"s": 1, "min": 60, "h": 3600, "day": 86400, "days": 86400}


def _value(text: str) -> object:
    """A default as docs/streams.md writes it: ``5 000``, ``0.90``, ``10 min``, ``7 days``."""
    if found := re.fullmatch(r"([\d.]+) (s|min|h|days?)", text):
        return timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])
    return float(text.replace(" ", ""))


def _table_defaults(heading: str) -> dict[str, str]:
    """``setting → default`` of the streams.md table whose header starts with ``heading``;
    a row naming several settings gives their defaults in order."""
    text = (ROOT / "docs" / "streams.md").read_text(encoding="utf-8")
    table = text.split(heading, 1)[1].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        names, default = (cell.strip() for cell in line.strip("|").split(" | ")[:2])
        names = re.sub(r"\s*\(.*?\)", "", names)
        values = [v.strip() for v in re.sub(r"\s+\((?!`).*\)$", "", default).split(", ")]
        keys = re.findall(r"`(\w+)`", names)
        if len(values) != len(keys):
            values = [default] * len(keys)
        rows.update(zip(keys, values, strict=True))
    return rows


def test_the_analysts_sql_takes_chinas_today_not_the_servers() -> None:
    """The tables' days are China days; ``today()`` is the server's (UTC in a container), so a
    window "since today() - 14" was a day off from 00:00 to 08:00 China time."""
    sql = "\n".join(
        re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "analysts.md").read_text(), re.S)
    )
    assert sql and "today()" not in sql


@pytest.mark.parametrize(
    ("heading", "model", "skip"),
    [
        ("| setting | default | meaning |", StreamsConfig, {"alerts"}),
        (
            "| `AlertsConfig` setting | default |",
            AlertsConfig,
            {"province_rates", "due_categories", "service_hours"},
        ),
    ],
    ids=["StreamsConfig", "AlertsConfig"],
)
def test_streams_md_lists_every_setting_with_its_default(
    heading: str, model: type[BaseModel], skip: set[str]
) -> None:
    rows = _table_defaults(heading)
    assert set(rows) == set(model.model_fields)
    for name, default in rows.items():
        if name in skip:
            continue
        if name == "rates":
            rates = model.model_fields[name].default
            assert [float(v) for v in default.split(", ")] == [
                rates.connection,
                rates.service_level,
            ]
            continue
        actual = model.model_fields[name].default
        assert _value(default) == (actual if isinstance(actual, timedelta) else float(actual)), name


BENCH_SCRIPTS = sorted(
    path.name
    for path in (ROOT / "bench").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
)


@pytest.mark.parametrize("script", BENCH_SCRIPTS)
def test_every_bench_script_explains_itself_with_help(script: str) -> None:
    """README, "Benchmarks": each script "explains itself with ``--help``"."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert script in done.stdout  # its usage


def test_readme_names_every_bench_script_and_where_its_figures_are() -> None:
    """``at_tree.py`` runs another script against another source tree: no bench itself."""
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Benchmarks", 1)[1]
    rows = dict(re.findall(r"^\| `(\w+\.py)` \|.*\]\((docs/[\w-]+\.md)\) \|$", table, flags=re.M))
    assert set(rows) == set(BENCH_SCRIPTS) - {"at_tree.py"}
    for script, doc in rows.items():
        assert script in (ROOT / doc).read_text(encoding="utf-8"), doc


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*path, name))


@pytest.mark.parametrize(
    "path", list(_command_paths(typer.main.get_command(app))), ids=lambda p: " ".join(p) or "-"
)
def test_every_command_and_group_answers_help(path: tuple[str, ...]) -> None:
    """README, "The hotline command": "Every command and group answers ``--help``"."""
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
