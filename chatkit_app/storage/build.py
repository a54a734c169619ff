"""The file storage the settings name (`CHATKIT_STORAGE_URL`)."""

from __future__ import annotations

from typing import Any

from chatkit_app.core.byte_budget import ByteBudget
from chatkit_app.settings import Settings
from chatkit_app.storage.base import FileStorage
from chatkit_app.storage.local import LocalStorage


def build_storage(settings: Settings) -> FileStorage:
    location = settings.storage_location
    if location.directory is not None:
        return LocalStorage(location.directory)
    from chatkit_app.storage.s3 import S3Storage  # boto3 is imported only when S3 is used

    buffer = ByteBudget(round(settings.chatkit_upload_buffer_mb * 1024 * 1024))
    return S3Storage(location.bucket, location.prefix, client_options=s3_client_options(settings), buffer=buffer)


def s3_client_options(settings: Settings) -> dict[str, Any]:
    """boto3 client arguments from the standard AWS variables (as read by the settings, so
    `.env` works too). What is unset is left to boto3's own chain (~/.aws, instance roles)."""
    options: dict[str, Any] = {}
    endpoint = settings.aws_endpoint_url_s3 or settings.aws_endpoint_url
    if endpoint:
        options["endpoint_url"] = endpoint
    region = settings.aws_region or settings.aws_default_region
    options["region_name"] = region or "us-east-1"
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        options["aws_access_key_id"] = settings.aws_access_key_id.get_secret_value()
        options["aws_secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
        if settings.aws_session_token:
            options["aws_session_token"] = settings.aws_session_token.get_secret_value()
    return options
