"""One error tree for the whole app; every HTTP error body is the same JSON envelope.

    ChatKitAppError                 code, http status, retryable, safe message
    ├── BadRequest           400    invalid_request, invalid_json
    ├── ValidationFailed     422    validation_error
    ├── Unauthorized         401    missing_credentials, invalid_token, token_expired,
    │                               token_reused, session_revoked, session_expired,
    │                               invalid_api_key
    ├── Forbidden            403    forbidden
    ├── NotFound             404    session_not_found, workflow_not_found, not_found
    ├── Conflict             409    already_uploaded
    ├── PayloadTooLarge      413    payload_too_large
    ├── (UnsupportedMediaType 415   unsupported_media_type: chatkit_server/files.py)
    ├── RateLimited          429    rate_limited (+ Retry-After): too many requests in a
    │                               short time (ours, chatkit_app/limits/, or OpenAI's)
    ├── QuotaExceeded        429    quota_exceeded (+ Retry-After when waiting helps): a
    │                               daily or standing allowance is used up
    ├── UpstreamFailed       502    upstream_error (OpenAI failed, refused our key or
    │                               answered something unusable)
    ├── UpstreamTimeout      504    upstream_timeout
    └── ServiceUnavailable   503    database_unavailable, upstream_not_configured,
        │                           api_key_not_configured
        └── StorageUnavailable 503  storage_unavailable (+ Retry-After): the file
                                    storage (directory or S3 bucket) cannot be used;
                                    storage_busy: too many uploads held in memory at once

Messages are written for humans and never carry a secret, a token or a traceback.
`retry_after` (seconds), when set, goes out as the `Retry-After` header.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChatKitAppError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False
    retry_after: int | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.code, self.message)


class BadRequest(ChatKitAppError):
    status = 400
    default_code = "invalid_request"


class ValidationFailed(ChatKitAppError):
    status = 422
    default_code = "validation_error"


class Unauthorized(ChatKitAppError):
    status = 401
    default_code = "invalid_token"


class Forbidden(ChatKitAppError):
    status = 403
    default_code = "forbidden"


class NotFound(ChatKitAppError):
    status = 404
    default_code = "not_found"


class Conflict(ChatKitAppError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(ChatKitAppError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(ChatKitAppError):
    status = 429
    default_code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class QuotaExceeded(ChatKitAppError):
    """A quota (bytes or model tokens a day, files waiting to be sent) is used up. Unlike
    `RateLimited`, waiting a moment does not help; `retry_after` says when it does, or is
    None when only the user's own action frees it (e.g. sending or removing uploads)."""

    status = 429
    default_code = "quota_exceeded"
    retryable = True

    def __init__(self, message: str, *, retry_after: int | None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class UpstreamFailed(ChatKitAppError):
    status = 502
    default_code = "upstream_error"
    retryable = True


class UpstreamTimeout(ChatKitAppError):
    status = 504
    default_code = "upstream_timeout"
    retryable = True


class ServiceUnavailable(ChatKitAppError):
    status = 503
    default_code = "service_unavailable"
    retryable = True


def error_envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class StorageUnavailable(ServiceUnavailable):
    """The file storage cannot be reached or refuses us. The message names the storage,
    never its address or credentials (those go to the server log, without secrets)."""

    default_code = "storage_unavailable"
    retry_after = 5

    def __init__(self, message: str = "The file storage is unavailable; try again shortly.") -> None:
        super().__init__(message)


class StorageBusy(StorageUnavailable):
    """Uploads already hold as many bytes in memory as this process allows
    (`CHATKIT_UPLOAD_BUFFER_MB`): this one is refused before it takes more."""

    default_code = "storage_busy"
    retry_after = 10

    def __init__(self) -> None:
        super().__init__("The server is receiving many files right now; try this upload again in a moment.")
