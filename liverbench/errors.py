"""The errors liverbench raises on purpose. Each names the case, file or key that caused it."""


class LiverbenchError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class InputError(LiverbenchError, ValueError):
    """Bad input data: missing or truncated file, grid mismatch, non-binary mask, NaNs, wrong ndim."""


class ConfigError(LiverbenchError, ValueError):
    """An invalid run configuration; the message names the offending key."""


class UnknownNameError(LiverbenchError, KeyError):
    """An unknown method, post-processor or dataset name; the message suggests near matches."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StoreError(LiverbenchError):
    """The run folder cannot be written (disk full, read-only); rows already stored are kept."""


class RegistryError(LiverbenchError):
    """A plugin that cannot be registered or loaded (duplicate name, bad entry point)."""


def error_text(exc: BaseException) -> str:
    """One line for expected errors (they name their case/file); the last frames otherwise."""
    import traceback

    if isinstance(exc, LiverbenchError):
        return f"{type(exc).__name__}: {exc}"
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:])[-1500:]
