"""``hotline dashboard``: serve the dashboards; manage their users; fetch ECharts.

::

    hotline dashboard [--host 127.0.0.1] [--port 8000] [--login-failures-per-user 5]
                      [--login-failures-per-client 20] [--login-window 300]
    hotline dashboard user add NAME --scope national|province:320000|city:320100
    hotline dashboard user list | remove NAME
    hotline dashboard demo-account          # (re)creates `demo` with a fresh password, prints it
    hotline dashboard assets | check
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import typer

from hotline.centers import default_centers
from hotline.errors import ConfigurationError
from hotline.infra.clickhouse_users import QA_WRITER
from hotline.regions import default_registry
from hotline.settings import Settings
from hotline.web_server import listen, serve_on

from .acks import AckStore
from .app import Services, create_app
from .assets import HOW, fetch_assets, missing_assets
from .config import DASHBOARD_USER, DashboardConfig
from .quality import EvaluationWriter
from .queries import Warehouse
from .sessions import SessionStore
from .users import UserStore

app = typer.Typer(
    help="Provincial dashboards (web): serve them, manage their users, fetch ECharts.",
    invoke_without_command=True,
    no_args_is_help=False,
)
user_app = typer.Typer(help="Dashboard accounts, each with a scope.", no_args_is_help=True)
app.add_typer(user_app, name="user")

DEMO_USER = "demo"


def _settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        raise ConfigurationError("hotline dashboard must run under the hotline command")
    return root.obj


def _users(settings: Settings) -> UserStore:
    return UserStore(DashboardConfig.from_settings(settings).users_file, default_registry())


def build_services(
    settings: Settings, config: DashboardConfig, *, evaluation_writes: bool = True
) -> Services:
    """Reads as the read-only ``dashboard`` user; the evaluation form alone writes, as the
    insert-only ``qa_writer`` user (``HOTLINE_CLICKHOUSE__QA_WRITER_PASSWORD``) on a separate
    connection, unless ``evaluation_writes`` is off."""
    writer = None
    if evaluation_writes:
        writer = EvaluationWriter(
            settings.clickhouse,
            QA_WRITER,
            settings.clickhouse.qa_writer_password.get_secret_value(),
        )
    return Services(
        config=config,
        users=UserStore(config.users_file, default_registry()),
        sessions=SessionStore(config.session_ttl_s),
        warehouse=Warehouse(
            settings.clickhouse,
            DASHBOARD_USER,
            settings.clickhouse.dashboard_password.get_secret_value(),
            timeout_s=config.query_timeout_s,
        ),
        acks=AckStore(config.acks_file),
        regions=default_registry(),
        centers=default_centers(),
        evaluations=writer,
    )


@app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="port to listen on"),
    secure_cookies: bool = typer.Option(False, help="Secure cookies (behind HTTPS)"),
    evaluation_writes: bool = typer.Option(
        True, help="let the quality form store evaluations (as the insert-only qa_writer user)"
    ),
    login_failures_per_user: int = typer.Option(
        5, min=1, help="failed logins of one user name within --login-window before 429"
    ),
    login_failures_per_client: int = typer.Option(
        20, min=1, help="failed logins from one client address within --login-window before 429"
    ),
    login_window: int = typer.Option(
        300, min=1, help="seconds over which failed logins are counted (per process)"
    ),
    query_timeout: int = typer.Option(
        30, min=1, max=50, help="seconds after which ClickHouse stops a dashboard query (503)"
    ),
) -> None:
    """Serve the dashboards (when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx)
    config = DashboardConfig.from_settings(
        settings,
        secure_cookies=secure_cookies,
        login_failures_per_user=login_failures_per_user,
        login_failures_per_client=login_failures_per_client,
        login_window_s=login_window,
        query_timeout_s=query_timeout,
    )
    if missing_assets():
        typer.echo(f"warning: charts are off until you {HOW}", err=True)
    if not config.users_file.exists():
        typer.echo(
            f"warning: no dashboard users yet ({config.users_file}); add one with "
            "`hotline dashboard user add NAME --scope national`",
            err=True,
        )
    sock = listen(host, port)
    typer.echo(f"hotline dashboards on http://{host}:{port}/")
    services = build_services(settings, config, evaluation_writes=evaluation_writes)
    serve_on(create_app(services), sock)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="login name"),
    scope: str = typer.Option(..., help="national | province:<code> | city:<code>"),
    password_stdin: bool = typer.Option(False, help="read the password from standard input"),
    replace: bool = typer.Option(False, help="overwrite an existing user"),
) -> None:
    """Add a user (the password is prompted for, or read from stdin; stored as argon2id)."""
    users = _users(_settings(ctx))
    users.check(name, scope, replace=replace)  # before asking for the password
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = users.add(name, password, scope, replace=replace)
    typer.echo(f"user {user.name} ({user.scope}) saved")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List users and their scopes."""
    for user in _users(_settings(ctx)).list():
        typer.echo(f"{user.name}\t{user.scope}")


@user_app.command("remove")
def user_remove(
    ctx: typer.Context, name: str = typer.Argument(..., help="login name of the user to remove")
) -> None:
    """Remove a user (their open sessions end at their next request)."""
    _users(_settings(ctx)).remove(name)
    typer.echo(f"user {name} removed")


@app.command("demo-account")
def demo_account(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="host of the printed URL only (serves nothing)"),
    port: int = typer.Option(
        8000, min=1, max=65535, help="port of the printed URL only (serves nothing)"
    ),
) -> None:
    """(Re)create the national `demo` user with a fresh random password and print it."""
    password = secrets.token_urlsafe(9)
    _users(_settings(ctx)).add(DEMO_USER, password, "national", replace=True)
    typer.echo(f"dashboards: http://{host}:{port}/  user: {DEMO_USER}  password: {password}")


@app.command("assets")
def assets(
    build_dir: str = typer.Option("build/dashboard-assets", help="npm's work folder"),
) -> None:
    """Install ECharts from the npm registry (npm ci) and copy it into static/vendor/."""
    typer.echo(f"ECharts ready: {fetch_assets(Path(build_dir))}")


@app.command("check")
def check() -> None:
    """Tell whether the front end's libraries are in place, and how to fetch them."""
    missing = missing_assets()
    if missing:
        typer.echo(f"missing: {', '.join(missing)}; {HOW}", err=True)
        raise typer.Exit(1)
    typer.echo("dashboard assets: ok")
