"""The exceptions Delegate raises: one class per kind of failure, each with the HTTP API's
error `code`, the offending `field` (Invalid) and `retry_after` seconds (RateLimited,
QuotaExceeded, Unavailable)."""

from typing import Optional


class DelegateError(Exception):
    """A Delegate operation failed."""

    def __init__(
        self,
        message: str,
        code: str = "internal",
        field: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.retry_after = retry_after


class Unauthenticated(DelegateError):
    """No valid credentials (a wrong password, an expired or revoked token)."""


class Forbidden(DelegateError):
    """Known, but not allowed."""


class NotFound(DelegateError):
    """No such thing, or not the caller's."""


class Conflict(DelegateError):
    """Collides with existing state (a taken email)."""


class Invalid(DelegateError):
    """The input broke a rule; `field` names it."""


class RateLimited(DelegateError):
    """Too many requests; `retry_after` says when to try again."""


class QuotaExceeded(DelegateError):
    """The tier's quota is used up; `retry_after` says when it starts again."""


class Unavailable(DelegateError):
    """A dependency (the database, Redis, the AI provider's configuration) is unavailable."""


class Upstream(DelegateError):
    """The AI provider failed."""
