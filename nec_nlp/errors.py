"""Coded error and warning messages (spaCy's ``errors.py`` style).

Messages never contain note text: they name rows, files, codes and reasons only.
"""


class NecNlpError(Exception):
    """An error a user can hit and fix; the CLI prints its message without a traceback (exit code 2)."""

    code = "E000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")


class CodeSetError(NecNlpError):
    code = "E001"


class ModelError(NecNlpError):
    code = "E002"


class InputError(NecNlpError):
    code = "E003"


class NecNlpWarning(UserWarning):
    """Warnings a user should see (approximate code-set release, fallbacks)."""
