"""Storage in an S3-compatible bucket (AWS, DigitalOcean, Wasabi, Backblaze, R2, MinIO) via boto3.

- Credentials come only from boto3's chain; nothing here reads, prints or stores them.
- Large files stream: s3transfer does multipart uploads and parallel ranged downloads in chunks,
  with a bounded write queue, so memory stays flat whatever the object size.
- Retries (throttling, 5xx, dropped connections) are botocore's, configured here, not a loop.
- Every transfer is checked afterwards: size, and the ETag recomputed locally when it is an MD5
  (single part) or an MD5 of part MD5s (multipart) -- i.e. unless the bucket encrypts with KMS.
- Every error becomes a one-line StorageError naming the bucket and key.
"""
from __future__ import annotations

import base64
import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import boto3
import botocore.session
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
from botocore.exceptions import (BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError,
                                 ProfileNotFound)
from s3transfer.exceptions import RetriesExceededError

from domain.errors import StorageError
from infrastructure.storage.providers import S3Settings, parse_s3_uri, resolve
from domain.layout import atomic_path

MB = 1024 * 1024
# 8 MB parts x 4 threads: at most ~32 MB of parts in flight; 64 x 256 KB write queue = 16 MB.
# That bounds the client's memory for any object size (bench/storage.py measures it).
TRANSFER = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=4,
                          max_io_queue=64, io_chunksize=256 * 1024, preferred_transfer_client="classic")

# What the endpoint or the network can throw at us; anything else is a bug and stays a traceback.
_FAILURES = (ClientError, BotoCoreError, S3UploadFailedError, S3TransferFailedError, RetriesExceededError)
_REASONS = {
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "not found", "404": "not found", "NotFound": "not found",
    "AccessDenied": "access denied (check the credentials' permissions on this bucket)",
    "403": "access denied (check the credentials' permissions on this bucket)",
    "InvalidAccessKeyId": "the endpoint does not know this access key (check AWS_PROFILE / AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "SlowDown": "the endpoint kept throttling after every retry",
    "BadDigest": "the data was corrupted in transit (checksum mismatch)",
    "InvalidDigest": "the data was corrupted in transit (checksum mismatch)",
}


def make_client(settings: S3Settings | None = None):
    """An S3 client for the provider preset; credentials and unset options from boto3's chain."""
    settings = settings or S3Settings()
    options = resolve(settings)
    checksums = "when_supported" if options.aws_checksums else "when_required"
    try:
        core = botocore.session.get_session()  # reads AWS_PROFILE, AWS_CONFIG_FILE, env...
        session = boto3.session.Session(botocore_session=core)
        # Upgrade botocore's "legacy" default to "standard" (exponential backoff with jitter on
        # throttling, 5xx and connection errors), unless the user's env/profile chose a mode.
        configured = core.get_config_variable("retry_mode")
        retries = {"mode": settings.retry_mode or (configured if configured != "legacy" else "standard")}
        if settings.max_attempts:
            retries["total_max_attempts"] = settings.max_attempts
        config = Config(
            retries=retries, connect_timeout=10, read_timeout=60, tcp_keepalive=True,
            s3={"addressing_style": "path"} if options.path_style else None,
            request_checksum_calculation=checksums, response_checksum_validation=checksums,
        )
        client = session.client("s3", endpoint_url=options.endpoint_url, region_name=options.region, config=config)
    except ProfileNotFound as exc:
        raise StorageError(f"AWS profile {exc.kwargs.get('profile')!r} not found in the AWS config files") from None
    except BotoCoreError as exc:
        raise StorageError(f"cannot set up the S3 client ({type(exc).__name__})") from None
    if options.needs_endpoint and "amazonaws.com" in client.meta.endpoint_url:
        raise StorageError(
            f"--s3-provider {settings.provider} needs --s3-endpoint-url (or AWS_ENDPOINT_URL_S3)")
    return client


def _root_cause(exc: BaseException) -> BaseException:
    """boto3 wraps transfer failures (S3UploadFailedError, RetriesExceededError): unwrap them."""
    for _ in range(10):  # chains are short; the bound only guards against a cycle
        if isinstance(exc, (ClientError, NoCredentialsError)):
            return exc
        inner = getattr(exc, "last_exception", None) or exc.__cause__ or exc.__context__
        if inner is None:
            return exc
        exc = inner
    return exc


class S3Storage:
    """Objects under `s3://bucket/prefix`, keyed like files under a folder."""

    def __init__(self, uri: str, settings: S3Settings | None = None, *, client=None,
                 transfer: TransferConfig = TRANSFER):
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self._client = client or make_client(settings)
        self._transfer = transfer
        self._bucket_checked = False
        self._writing = False  # set by the first write, which clears stale multipart uploads

    # ---- the Storage port -------------------------------------------------------------------

    def local_root(self) -> None:
        return None

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def list(self, prefix: str = "") -> list[str]:
        query = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        keys = []
        with self._errors("list", prefix, prefix=True):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=query)
            for page in pages:
                keys += [self._relative(o["Key"]) for o in page.get("Contents", [])]
        if prefix:  # like a folder: "data" matches data and data/x, never data2/x
            folder = prefix.rstrip("/")
            keys = [k for k in keys if k == folder or k.startswith(folder + "/")]
        return sorted(keys)

    def read_bytes(self, key: str) -> bytes:
        with self._errors("read", key):
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        digest = hashlib.md5(data)
        with self._errors("write", key):
            self._before_first_write()
            # Content-MD5 makes the server reject a body corrupted in transit (every provider).
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                    ContentMD5=base64.b64encode(digest.digest()).decode())

    def upload_file(self, local_path: Path, key: str) -> None:
        local_path = Path(local_path)
        size = local_path.stat().st_size
        full = self._key(key)
        with self._errors("upload", key):
            self._before_first_write()
            try:
                self._client.upload_file(str(local_path), self.bucket, full, Config=self._transfer)
            except BaseException:
                # s3transfer aborts its multipart upload itself; this covers Ctrl-C as well.
                self._abort_uploads_quietly(key)
                raise
            self._verify(key, self._head(key, must_exist=True), local_path, size)

    def download_file(self, key: str, local_path: Path) -> None:
        local_path = Path(local_path)
        head = self._head(key, must_exist=True)
        with atomic_path(local_path) as tmp:
            with self._errors("download", key):
                self._client.download_file(self.bucket, self._key(key), str(tmp), Config=self._transfer)
            self._verify(key, head, tmp, tmp.stat().st_size)

    def delete(self, key: str) -> None:
        """Delete `key` and, like a folder, everything under `key/`."""
        children = self.list(key) if key else self.list()
        with self._errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
            for start in range(0, len(children), 1000):  # DeleteObjects takes 1000 keys at most
                batch = [{"Key": self._key(k)} for k in children[start:start + 1000]]
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    # ---- housekeeping -----------------------------------------------------------------------

    def incomplete_uploads(self, prefix: str = "") -> list[str]:
        """Keys under `prefix` with multipart uploads started and never completed nor aborted."""
        with self._errors("list uploads", prefix, prefix=True):
            return sorted(self._relative(u["Key"]) for u in self._uploads(prefix))

    # ---- internals --------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        key = key.strip("/")
        if any(part in ("", ".", "..") for part in key.split("/")) and key:
            raise StorageError(f"{self.uri}: key {key!r} has an empty, '.' or '..' segment")
        return f"{self.prefix}/{key}" if self.prefix and key else (key or self.prefix)

    def _relative(self, full: str) -> str:
        return full[len(self.prefix) + 1:] if self.prefix else full

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _head(self, key: str, must_exist: bool = False) -> dict | None:
        try:
            return self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise self._error("read", self._where(key), exc) from None
        except _FAILURES as exc:
            raise self._error("read", self._where(key), exc) from None
        self._check_bucket(key)  # a HEAD says only "404": tell a missing bucket apart
        if must_exist:
            raise StorageError(f"{self._where(key)}: not found")
        return None

    def _check_bucket(self, key: str) -> None:
        if self._bucket_checked:
            return
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"{self._where(key)}: the bucket {self.bucket} does not exist") from None
            raise self._error("open bucket", self._where(key), exc) from None
        except _FAILURES as exc:
            raise self._error("open bucket", self._where(key), exc) from None
        self._bucket_checked = True

    def _before_first_write(self) -> None:
        """A verb owns its output prefix: multipart uploads left open there by an interrupted
        earlier run (its abort could not reach the endpoint) are aborted before writing again."""
        if not self._writing:
            self._abort(self._uploads(""))
            self._writing = True

    def _uploads(self, prefix: str) -> list[dict]:
        """Open multipart uploads under `prefix`, with folder semantics as in `list`."""
        query = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=query)
        uploads = [u for page in pages for u in page.get("Uploads", [])]
        if prefix:
            full = self._key(prefix)
            uploads = [u for u in uploads if u["Key"] == full or u["Key"].startswith(full + "/")]
        return uploads

    def _abort(self, uploads: list[dict]) -> int:
        for upload in uploads:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(uploads)

    def _abort_uploads_quietly(self, key: str) -> None:
        try:
            self._abort([u for u in self._uploads(key) if u["Key"] == self._key(key)])
        except (BotoCoreError, ClientError):
            self._writing = False  # the endpoint is down: the next write tries again

    def _verify(self, key: str, head: dict, local_path: Path, size: int) -> None:
        """Size always; the ETag too when it is an MD5 (or MD5 of part MD5s) we can recompute."""
        if head["ContentLength"] != size:
            raise StorageError(f"{self._where(key)}: size mismatch after transfer "
                               f"({size} bytes local, {head['ContentLength']} remote)")
        etag = head.get("ETag", "").strip('"')
        if head.get("ServerSideEncryption", "AES256") != "AES256" or head.get("SSECustomerAlgorithm"):
            return  # with KMS or customer keys the ETag is not an MD5 of the data
        md5, _, parts = etag.partition("-")
        if len(md5) != 32:
            return
        part_size = size
        if parts and int(parts) > 1:
            with self._errors("read", key):
                part_size = self._client.head_object(
                    Bucket=self.bucket, Key=self._key(key), PartNumber=1)["ContentLength"]
        if local_etag(local_path, part_size, multipart=bool(parts)) != etag:
            raise StorageError(f"{self._where(key)}: checksum mismatch after transfer (ETag {etag})")

    @contextmanager
    def _errors(self, action: str, key: str, prefix: bool = False) -> Iterator[None]:
        where = self._where(key) + ("/" if prefix and key else "")
        try:
            yield
        except _FAILURES as exc:
            raise self._error(action, where, exc) from None

    def _error(self, action: str, where: str, exc: BaseException) -> StorageError:
        """One line naming bucket and key; built from codes and types, never from raw messages
        (which could echo request details)."""
        cause = _root_cause(exc)
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            reason = _REASONS.get(code, f"the endpoint answered {code or 'an error'}")
        elif isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
            reason = "no usable credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        else:
            endpoint = self._client.meta.endpoint_url.split("@")[-1]  # never echo user:pass@
            reason = f"cannot reach {endpoint} ({type(cause).__name__}, after retries)"
        return StorageError(f"{where}: {action} failed: {reason}")


def local_etag(path: Path, part_size: int, multipart: bool) -> str:
    """The ETag S3 gives an unencrypted object: MD5, or MD5 of the part MD5s plus "-parts"."""
    digests = []
    with open(path, "rb") as handle:
        while True:
            md5, left = hashlib.md5(), part_size
            while left and (chunk := handle.read(min(MB, left))):
                md5.update(chunk)
                left -= len(chunk)
            if left == part_size and digests:
                break  # nothing left: the previous part was the last
            digests.append(md5)
            if left:
                break  # a short part is the last one
    if not multipart:
        return digests[0].hexdigest()
    return hashlib.md5(b"".join(d.digest() for d in digests)).hexdigest() + f"-{len(digests)}"
