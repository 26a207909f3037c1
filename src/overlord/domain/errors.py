"""One error hierarchy for the whole product.

Every failure a user can cause or meet has a stable ``code`` so that each entrypoint maps it to
an exit status or an HTTP status in exactly one place, and adapters translate SDK exceptions into
these at their boundary so services never see ``botocore`` or ``sqlite3`` errors.
"""

from __future__ import annotations


class OverlordError(Exception):
    """Base of every error Overlord raises on purpose."""

    code = "overlord_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OverlordError):
    """The caller gave something malformed; nothing was changed."""

    code = "invalid_input"


class InvalidName(InvalidInput):
    code = "invalid_name"


class InvalidTemplate(InvalidInput):
    code = "invalid_template"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class PackageTooLarge(InvalidInput):
    """A Lambda deployment package Lambda would refuse: nothing was deployed, and only
    packaging less (fewer or smaller requirements) can fix it."""

    code = "package_too_large"


class ConfigurationError(OverlordError):
    """An operator's setting is missing or unusable: the deployment is at fault, not the request.

    Not an `InvalidInput`: no caller can fix it by asking differently, so the API answers 500
    and the CLI exits 1. ``setting`` names what to fix (``OVERLORD_SCHEDULER_TARGET_ARN``, a key
    of the settings file) so that entrypoints can log it as a field of its own."""

    code = "configuration"

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


class InvalidArchive(InvalidInput):
    """An archive that cannot be unpacked as it is: not a zip, corrupt or cut off, or holding
    what no unpack writes (a symlink, two members that would be one file, an encrypted member)."""

    code = "invalid_archive"


class MalformedRequest(InvalidInput):
    """Input no entrypoint can read: not JSON, not an object, a malformed event or header."""

    code = "malformed_request"


class InvalidPayload(InvalidInput):
    """A job's payload does not match the ``payload_schema`` its job type declares."""

    code = "invalid_payload"


class NotFound(OverlordError):
    code = "not_found"


class Forbidden(OverlordError):
    code = "forbidden"


class Conflict(OverlordError):
    """The request is well formed but the current state does not allow it."""

    code = "conflict"


class DuplicateKey(Conflict):
    """A unique index or a conditional insert refused a second document."""

    code = "duplicate_key"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class QuotaExceeded(Conflict):
    code = "quota_exceeded"


class BackendError(OverlordError):
    """A backend failed in a way the caller cannot fix by changing the request."""

    code = "backend_error"


class Throttled(BackendError):
    code = "throttled"


class OutcomeUnknown(BackendError):
    """The backend may have acted on the request without saying so (its answer was lost).

    Retrying a request that is not idempotent could then act twice, so the caller must find
    out what happened instead, as `overlord jobs reconcile` does for a job submission."""

    code = "outcome_unknown"


class Contended(BackendError):
    """A record kept changing under a compare-and-set for more rounds than any real
    contention needs; trying again later is the remedy, as for throttling."""

    code = "contended"
