"""S3-compatible providers: which endpoint, region and request style each one needs.

Users pick a preset (`--s3-provider r2 --s3-account-id ...`) instead of hand-writing endpoints.
This module is pure: it turns settings into client options and never touches credentials, which
come only from boto3's own chain (environment, profile, config file).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import ConfigError


@dataclass(frozen=True)
class S3Settings:
    """What the user chose on the command line or in the environment (never credentials)."""

    provider: str = "aws"
    """One of PRESETS: aws, digitalocean, wasabi, backblaze, r2, minio, custom."""
    endpoint_url: str | None = None
    """Overrides the preset's endpoint; empty = the preset's, or boto3's AWS_ENDPOINT_URL_S3."""
    region: str | None = None
    """Region; empty = the preset's default, or boto3's own chain (AWS_DEFAULT_REGION, profile)."""
    account_id: str | None = None
    """Cloudflare account id; only R2 puts it in the endpoint."""
    retry_mode: str | None = None
    """botocore retry mode (standard, adaptive); empty = AWS_RETRY_MODE/profile, else standard."""
    max_attempts: int | None = None
    """Total attempts per request; empty = AWS_MAX_ATTEMPTS/profile, else botocore's default (3)."""


@dataclass(frozen=True)
class Preset:
    endpoint: str | None
    """Endpoint template with {region} / {account_id}; None = boto3 resolves it."""
    default_region: str | None
    path_style: bool = False
    """Path-style URLs (http://host/bucket/key): self-hosted servers rarely have wildcard DNS."""
    aws_checksums: bool = False
    """Send botocore's new default CRC checksums; several S3-compatible stores reject them, so
    only AWS gets them and the others are checked by Content-MD5 / ETag / size instead."""
    needs: tuple[str, ...] = ()
    example_region: str = ""


PRESETS: dict[str, Preset] = {
    "aws": Preset(endpoint=None, default_region=None, aws_checksums=True),
    "digitalocean": Preset("https://{region}.digitaloceanspaces.com", "nyc3", example_region="fra1"),
    "wasabi": Preset("https://s3.{region}.wasabisys.com", "us-east-1", example_region="eu-central-1"),
    "backblaze": Preset("https://s3.{region}.backblazeb2.com", None, needs=("region",),
                        example_region="us-west-004"),
    "r2": Preset("https://{account_id}.r2.cloudflarestorage.com", "auto", needs=("account_id",)),
    "minio": Preset(None, "us-east-1", path_style=True, needs=("endpoint_url",)),
    "custom": Preset(None, "us-east-1", path_style=True, needs=("endpoint_url",)),
}

# S3's rules (lowercase, digits, dots, hyphens) plus the upper case and underscores of legacy
# us-east-1 buckets and some self-hosted servers; the server has the last word.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")
_FLAGS = {"region": "--s3-region", "account_id": "--s3-account-id", "endpoint_url": "--s3-endpoint-url"}


@dataclass(frozen=True)
class ClientOptions:
    """Keyword arguments for `boto3.client("s3", ...)` and its botocore Config."""

    endpoint_url: str | None
    region: str | None
    path_style: bool
    aws_checksums: bool
    needs_endpoint: bool
    """True when the endpoint must come from the environment (AWS_ENDPOINT_URL_S3) if not given."""


def resolve(settings: S3Settings) -> ClientOptions:
    """Turn a provider preset plus overrides into client options; errors name the missing flag."""
    preset = PRESETS.get(settings.provider)
    if preset is None:
        raise ConfigError(f"--s3-provider {settings.provider}: unknown (choose from {', '.join(PRESETS)})")
    region = settings.region or preset.default_region
    values = {"region": region, "account_id": settings.account_id}
    if settings.endpoint_url is None:
        for need in preset.needs:
            if need != "endpoint_url" and not values.get(need):
                hint = f" (e.g. {preset.example_region})" if preset.example_region else ""
                raise ConfigError(f"--s3-provider {settings.provider} needs {_FLAGS[need]}{hint}")
    endpoint = settings.endpoint_url
    if endpoint is None and preset.endpoint is not None:
        endpoint = preset.endpoint.format(**values)
    if settings.retry_mode not in (None, "standard", "adaptive", "legacy"):
        raise ConfigError(f"--s3-retry-mode {settings.retry_mode}: use standard or adaptive")
    return ClientOptions(
        endpoint_url=endpoint, region=region, path_style=preset.path_style,
        aws_checksums=preset.aws_checksums,
        needs_endpoint=endpoint is None and "endpoint_url" in preset.needs,
    )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix")."""
    if not uri.startswith("s3://"):
        raise ConfigError(f"{uri}: not an s3:// URI")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"{uri}: {bucket!r} is not a valid bucket name (3-63 letters, digits, . - _)")
    return bucket, prefix.strip("/")
