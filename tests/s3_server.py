"""A real S3-compatible server on loopback for the storage tests: moto in server mode
(`moto[server]`, a dev dependency), one per test session on a free port, and a fresh
bucket per test. Registered as a pytest plugin by tests/conftest.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

# Credentials the server accepts (moto checks none); the secret is random so that a test
# can look for it in logs and error bodies.
ACCESS_KEY = "AKIATESTSTORAGE0000"
SECRET_KEY = "storage-secret-" + secrets.token_urlsafe(24)
REGION = "us-east-1"


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str
    prefix: str = "files"

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def settings(self) -> dict[str, Any]:
        """Settings overrides (for `make_settings`) that put attachments in this bucket."""
        return {
            "chatkit_storage_url": self.url,
            "aws_endpoint_url": self.endpoint,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "aws_region": REGION,
        }

    def env(self) -> dict[str, str]:
        """The same as environment variables, for a server process."""
        return {
            "CHATKIT_STORAGE_URL": self.url,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def client(self) -> Any:
        return s3_client(self.endpoint)

    def keys(self) -> list[str]:
        """The keys stored under the prefix (the test's view of the bucket)."""
        listing = self.client().list_objects_v2(Bucket=self.name, Prefix=self.prefix + "/")
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def incomplete_uploads(self) -> list[str]:
        return [u["Key"] for u in self.client().list_multipart_uploads(Bucket=self.name).get("Uploads", [])]


def s3_client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Bucket:
    bucket = Bucket(s3_endpoint, "chatkit-" + secrets.token_hex(6))
    s3_client(s3_endpoint).create_bucket(Bucket=bucket.name)
    return bucket
