"""What the window says about a failed call, chosen by the failure's type, not by parsing its text.

A refusal for the person's role, a conflict, something missing, a secret that is not available and a
defect in the station each call for a different next step (ask an administrator, change the input,
enter the passphrase, report it), so each gets its own sentence. The exception crossed the thread
boundary as itself (app/workers/background.py) so this choice can be made here.
"""

from __future__ import annotations

from app.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    SecretUnavailableError,
)
from app.domain.kinds import Role
from app.instance.wire import NotSignedInError
from app.workers.background import CallFailure

REPORT_IT = "This is a defect in the station: please report it (the station log has the details)."


def failure_text(failure: CallFailure | str, role: Role) -> str:
    """The sentence for the banner. A plain string (a worker's own remark) is shown as it is."""
    if isinstance(failure, str):
        return failure
    error = failure.error
    if isinstance(error, NotSignedInError):  # before its base class: it is not about the role
        return (
            f"{failure.what} failed: you are no longer signed in ({error}). "
            "Close the station and start it again to sign in."
        )
    if isinstance(error, PermissionDeniedError):
        return f"{failure.what} is not allowed for your role ({role.value}): {error}"
    if isinstance(error, ConflictError | NotFoundError):
        return failure.message
    if isinstance(error, SecretUnavailableError):
        return f"{failure.what} needs a secret the station does not have: {error}"
    if failure.unexpected:
        return f"{failure.message}\n{REPORT_IT}"
    return failure.message


def needs_passphrase(failure: CallFailure | str) -> bool:
    """The failure would go away once the person gives the passphrase that protects the instance keys."""
    return not isinstance(failure, str) and isinstance(failure.error, SecretUnavailableError)
