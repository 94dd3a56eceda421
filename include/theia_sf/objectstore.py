"""The object-store port and its two adapters: a local directory and S3 (or S3-compatible).

Locations are written as a directory path (``/var/lib/theia/flows``, ``file:///...``) or
``s3://bucket/prefix``. Keys are relative to the location and use ``/``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from theia_sf.errors import ConfigurationError

log = logging.getLogger(__name__)

# Told about each entry a listing leaves out, with why: (key, reason).
SkipHandler = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str  # relative to the store's location
    etag: str  # changes whenever the object may have changed (it is not a content hash)
    size: int
    last_modified: dt.datetime


class ObjectStore(Protocol):
    location: str

    def list(self, prefix: str = "", on_skip: SkipHandler | None = None) -> Iterator[ObjectInfo]: ...

    def download(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> str: ...

    def get_bytes(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def uri(self, key: str) -> str: ...

    def check(self) -> None: ...


def parse_location(location: str) -> tuple[str, str, str]:
    """Return (scheme, bucket-or-root, prefix) for a location string."""
    parsed = urlparse(location)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigurationError(f"S3 location {location!r} has no bucket")
        return "s3", parsed.netloc, parsed.path.lstrip("/").rstrip("/")
    if parsed.scheme == "file":
        return "file", parsed.path, ""
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # plain path (or C:\...)
        return "file", location, ""
    raise ConfigurationError(
        f"unsupported location {location!r}: use a directory path or s3://bucket/prefix"
    )


class LocalObjectStore:
    """A directory as an object store.

    The etag is the size and the modification time in nanoseconds: cheap to list, and it
    changes whenever the file may have changed. It does not identify content (touching a
    file changes it); ingestion identifies files by a hash of their bytes.
    """

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        if not self.root.is_dir():
            raise ConfigurationError(
                f"flows location {self.root} does not exist or is not a directory"
            )

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise ValueError(f"key {key!r} escapes the store root")
        return path

    def list(self, prefix: str = "", on_skip: SkipHandler | None = None) -> Iterator[ObjectInfo]:
        """Every regular file under the root (symlinks followed if they stay inside it).

        An entry that cannot be read as a file inside the root (a dangling symlink, one
        pointing outside, a FIFO, a file deleted while listing) is left out with a warning
        and reported to ``on_skip``: one bad entry never hides the others."""
        self.check()
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        root = self.root.resolve()
        for dirpath, _dirs, files in os.walk(base):
            for name in sorted(files):
                if name.startswith("."):
                    continue  # temporary files of writers in progress
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                try:
                    info = self._stat(key, path, root)
                except _Unlisted as why:
                    log.warning("flows location %s: leaving out %s: %s", self.location, key, why)
                    if on_skip is not None:
                        on_skip(key, str(why))
                    continue
                yield info

    def stat(self, key: str) -> ObjectInfo:
        """The entry as a listing would show it now (raises OSError if it is gone)."""
        path = self.root / key
        try:
            return self._stat(key, path, self.root.resolve())
        except _Unlisted as why:
            raise FileNotFoundError(f"{key}: {why}") from None

    @staticmethod
    def _stat(key: str, path: Path, root: Path) -> ObjectInfo:
        try:
            target = path.resolve(strict=True)
            st = target.stat()
        except FileNotFoundError:
            raise _Unlisted("a symlink to nothing, or deleted while listing") from None
        except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
            raise _Unlisted(f"cannot be read ({error})") from None
        if root not in target.parents:
            raise _Unlisted(f"a symlink to {target}, outside the location")
        if not stat.S_ISREG(st.st_mode):
            raise _Unlisted("not a regular file")
        return ObjectInfo(
            key=key,
            etag=f"{st.st_size}-{st.st_mtime_ns}",
            size=st.st_size,
            last_modified=dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC),
        )

    def download(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created with the process umask, as any other writer's files (mkstemp would make them
        # 0600, unreadable to a web server or Grafana reading the results folder); the dot name
        # keeps listings from seeing it.
        tmp = path.with_name(f".tmp-{secrets.token_hex(8)}-{path.name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # readers never see a half-written file
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return str(self._path(key))


class _Unlisted(Exception):
    """Why a directory entry is left out of a listing."""


class S3ObjectStore:
    """An S3 bucket prefix through a boto3 S3 client (real S3 or S3-compatible)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise ConfigurationError(
                f"cannot reach bucket {self.bucket!r} ({error}); check the location setting "
                "and the theia_aws connection"
            ) from error

    def list(self, prefix: str = "", on_skip: SkipHandler | None = None) -> Iterator[ObjectInfo]:
        """Every object under the prefix; the etag is S3's (an MD5 of the content for a
        single-part upload; for a multipart one not a content hash, but stable per version)."""
        self.check()
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                rel = key[len(self.prefix) + 1 :] if self.prefix else key
                if not rel or rel.endswith("/"):
                    continue
                yield ObjectInfo(rel, obj["ETag"].strip('"'), obj["Size"], obj["LastModified"])

    def download(self, key: str, path: Path) -> None:
        self.client.download_file(self.bucket, self._key(key), str(path))

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def open_store(location: str, s3_client_factory: Any = None, *, create: bool = False) -> ObjectStore:
    """Build the store for ``location``; ``s3_client_factory()`` returns a boto3 S3 client."""
    scheme, root, prefix = parse_location(location)
    if scheme == "s3":
        if s3_client_factory is None:
            import boto3

            return S3ObjectStore(boto3.client("s3"), root, prefix)
        return S3ObjectStore(s3_client_factory(), root, prefix)
    return LocalObjectStore(root, create=create)
