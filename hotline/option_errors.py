"""A command's options checked by the settings model they fill: its first complaint becomes a
usage error naming the option (``--batch-rows``), not a pydantic traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import typer
from pydantic import ValidationError


@contextlib.contextmanager
def options_checked(options: Mapping[str, str]) -> Iterator[None]:
    """Inside, a :class:`ValidationError` of a model built from options raises
    ``typer.BadParameter`` for the option ``options`` maps its field to (else the field)."""
    try:
        yield
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0])
        raise typer.BadParameter(error["msg"], param_hint=options.get(field, field)) from None
