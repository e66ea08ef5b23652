"""``hotline serve``: the ingest gateway and its tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from hotline.centers import default_centers
from hotline.option_errors import options_checked
from hotline.settings import Settings
from hotline.web_server import listen, serve_on

__all__ = ["app"]

log = logging.getLogger(__name__)

app = typer.Typer(help="Run hotline's network services.", no_args_is_help=True)
token_app = typer.Typer(help="Manage the ingest gateway's per-center API tokens.")
app.add_typer(token_app, name="ingest-token")

#: GatewayConfig's fields as ``serve ingest`` options, for usage errors.
_OPTIONS = {"rate_per_s": "--rate", "burst": "--burst", "max_body_bytes": "--max-body"}

TokensOption = Annotated[
    Path | None,
    typer.Option("--tokens", help="tokens file (default: <stack home>/gateway/tokens.json)"),
]


def _tokens_path(ctx: typer.Context, tokens: Path | None) -> Path:
    if tokens is not None:
        return tokens
    settings: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    return settings.stack.home / "gateway" / "tokens.json"


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8333,
    tokens: TokensOption = None,
    rate: Annotated[float, typer.Option(help="requests per second per token (> 0)")] = 5.0,
    burst: Annotated[int, typer.Option(help="requests a token may make at once (≥ 1)")] = 20,
    max_body: Annotated[int, typer.Option(help="largest request body in bytes (≥ 1024)")] = 1 << 20,
    dead_letters: Annotated[
        Path | None,
        typer.Option(
            "--dead-letters",
            help="rejected events, one JSON line each "
            "(default: <stack home>/gateway/dead_letters.jsonl)",
        ),
    ] = None,
) -> None:
    """Serve POST /v1/events (docs at /docs) and forward to Kafka with acks=all.

    Tokens added or revoked with `ingest-token` count from the next request on (no restart). Without any token it starts all the same and warns: every request gets 401 until the first token is added.
    """  # noqa: E501 -- one line per paragraph, as --help wraps it
    from hotline.producers.base import DeliveryConfig
    from hotline.producers.gateway.app import GatewayConfig, KafkaBatchSender, create_app
    from hotline.producers.gateway.tokens import TokenStore

    settings: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    path = _tokens_path(ctx, tokens)
    with options_checked(_OPTIONS):
        config = GatewayConfig(
            tokens_file=path,
            rate_per_s=rate,
            burst=burst,
            max_body_bytes=max_body,
            dead_letters_file=dead_letters
            or settings.stack.home / "gateway" / "dead_letters.jsonl",
        )
    store = TokenStore(path)
    if not store.entries:
        # A fresh server has none yet; refusing to start would only restart-loop a container.
        log.warning(
            "no tokens in %s: every request gets 401 until one is added with "
            "`hotline serve ingest-token add CENTER_ID` (no restart needed)",
            path,
        )
    sock = listen(host, port)
    typer.echo(f"hotline ingest gateway on http://{host}:{port}/v1/events (docs at /docs)")
    sender = KafkaBatchSender(DeliveryConfig.from_settings(settings))
    try:
        serve_on(create_app(config, store, sender), sock)
    finally:
        sender.close()


@token_app.command("add")
def token_add(
    ctx: typer.Context,
    center_id: Annotated[str, typer.Argument(help="the center, e.g. C330200")],
    tokens: TokensOption = None,
) -> None:
    """Make a token for CENTER_ID and print it once (only its hash is stored)."""
    from hotline.producers.gateway.tokens import TokenStore

    default_centers().get(center_id)  # UnknownCenter names the problem
    path = _tokens_path(ctx, tokens)
    token = TokenStore(path).add(center_id)
    typer.echo(token)
    typer.echo(f"token for {center_id} stored as a hash in {path}; it is not shown again", err=True)


@token_app.command("list")
def token_list(ctx: typer.Context, tokens: TokensOption = None) -> None:
    """Centers with tokens (hash prefixes and creation times only)."""
    from hotline.producers.gateway.tokens import TokenStore

    for entry in TokenStore(_tokens_path(ctx, tokens)).entries:
        typer.echo(f"{entry.center_id}\t{entry.sha256[:12]}…\t{entry.created}")


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    center_id: Annotated[str, typer.Argument(help="the center whose tokens to remove")],
    tokens: TokensOption = None,
) -> None:
    """Remove every token of CENTER_ID (a running gateway refuses them from the next request)."""
    from hotline.producers.gateway.tokens import TokenStore

    removed = TokenStore(_tokens_path(ctx, tokens)).revoke(center_id)
    typer.echo(f"removed {removed} token(s) of {center_id}")
