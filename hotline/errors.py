"""The root of hotline's exceptions and the small taxonomy that steers the flow.

::

    HotlineError
    ├── InvalidInput        bad data: goes to a dead-letter place with its reason
    ├── Backpressure        a downstream is full: pause, do not drop
    ├── RetryableError      a passing fault (broker or ClickHouse away): retry with backoff
    └── ConfigurationError  settings or environment are wrong: stop with a clear message

Each subpackage derives its own errors from these; third-party errors are wrapped with
``raise … from exc`` where they enter.
"""


class HotlineError(Exception):
    """Root of every error hotline raises on purpose."""

    hint: str = ""
    """What to do about it, where that is known: the ``hotline`` command prints it after the
    message (logs of retries do not repeat it)."""


class InvalidInput(HotlineError):
    """Input that can never be processed as it is; dead-letter it with this message."""


class Backpressure(HotlineError):
    """A downstream cannot take more now; slow down or pause."""


class RetryableError(HotlineError):
    """A passing fault; the same call may succeed later."""


class ConfigurationError(HotlineError):
    """Settings or the environment are unusable; the message says what to change."""


def explained(exc: HotlineError) -> str:
    """The error's message with its :attr:`~HotlineError.hint`, as a command prints it."""
    return f"{exc}; {exc.hint}" if exc.hint else str(exc)
