"""The one storage layer for dataset files and job folders: local disk by default, S3 by setting.

Keys are the paths the database already records under ``MEDIA_ROOT`` (``datasets/<id>/file.csv``,
``jobs/<pk>/model.pt``), so a key names the same file on every host. With ``OBJECT_STORAGE=local``
the store *is* ``MEDIA_ROOT``: publishing or fetching a file that is already at its key's path copies
nothing (one host, today's behaviour). With ``OBJECT_STORAGE=s3`` the bucket is the source of truth
and each host's ``MEDIA_ROOT`` is only its working area: whatever one host writes is published,
whatever another needs is fetched (datasets through :mod:`filestore.cache`).

Everything goes through Django's storage API (``storages["objects"]``: FileSystemStorage or
django-storages' S3Storage); only whole-file transfers use boto3's managed (multipart, streamed)
transfer, which S3Storage exposes as ``.bucket``.
"""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

logger = logging.getLogger(__name__)

COPY_CHUNK = 4 * 1024 * 1024
_bucket_checked: set[str] = set()


def is_remote() -> bool:
    """True when files live in an object store rather than on this host's MEDIA_ROOT."""
    return settings.OBJECT_STORAGE == "s3"


def objects() -> Storage:
    """The configured store (``STORAGES["objects"]``), its bucket created first when allowed."""
    store = storages["objects"]
    if is_remote() and settings.OBJECT_STORAGE_CREATE_BUCKET and store.bucket_name not in _bucket_checked:
        ensure_bucket(store)
    return store


def ensure_bucket(store: Storage) -> None:
    """Create the bucket if it is missing (compose, tests); production buckets are made by their owner."""
    from botocore.exceptions import ClientError

    client = store.connection.meta.client
    try:
        client.head_bucket(Bucket=store.bucket_name)
    except ClientError:
        client.create_bucket(Bucket=store.bucket_name)
        logger.info("created object-store bucket %s", store.bucket_name)
    _bucket_checked.add(store.bucket_name)


def media_path(key: str) -> Path:
    """Where ``key`` lives in this host's working area."""
    return Path(settings.MEDIA_ROOT) / _clean(key)


def publish(local_path: Path | str, key: str) -> None:
    """Copy a finished local file to the store under ``key`` (replacing what was there)."""
    local_path, key = Path(local_path), _clean(key)
    store = objects()
    if _is_own_file(store, local_path, key):
        return
    if hasattr(store, "bucket"):
        store.bucket.upload_file(str(local_path), store._normalize_name(key))
        return
    if store.exists(key):
        store.delete(key)
    with open(local_path, "rb") as fh:
        saved = store.save(key, File(fh))
    if saved != key:  # FileSystemStorage renames on a clash; a key must stay a key
        raise OSError(f"the store saved {key} as {saved}")


def fetch(key: str, local_path: Path | str) -> Path:
    """Copy ``key`` from the store to ``local_path`` (atomically: a reader never sees half a file)."""
    local_path, key = Path(local_path), _clean(key)
    store = objects()
    if _is_own_file(store, local_path, key):
        if not local_path.exists():
            raise FileNotFoundError(f"{key} is not in the store")
        return local_path
    local_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = local_path.with_name(f".{local_path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        if hasattr(store, "bucket"):
            from botocore.exceptions import ClientError

            try:
                store.bucket.download_file(store._normalize_name(key), str(tmp))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    raise FileNotFoundError(f"{key} is not in the object store") from exc
                raise
        else:
            if not store.exists(key):
                raise FileNotFoundError(f"{key} is not in the store")
            with store.open(key, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, COPY_CHUNK)
        os.replace(tmp, local_path)
    finally:
        tmp.unlink(missing_ok=True)
    return local_path


def exists(key: str) -> bool:
    return objects().exists(_clean(key))


def size(key: str) -> int:
    return objects().size(_clean(key))


def modified_timestamp(key: str) -> float:
    """When ``key`` was last written, as a POSIX timestamp."""
    return objects().get_modified_time(_clean(key)).timestamp()


def open_stream(key: str) -> IO[bytes]:
    """A binary file object reading ``key`` from the store."""
    return objects().open(_clean(key), "rb")


def local_copy(key: str) -> Path:
    """``key`` as a file on this host: the working-area copy, fetched from the store when missing.

    For files that never change once published (a finished job's scores, model, plan).
    """
    path = media_path(key)
    if not path.exists() and is_remote():
        fetch(key, path)
    return path


def download_response(key: str, filename: str, presign: bool = True, content_type: str | None = None) -> HttpResponse:
    """The file as a download: streamed, or (object store, ``presign``) a redirect to a short-lived
    presigned URL (``OBJECT_STORAGE_URL_SECONDS``).

    Call it only after checking the user may see the file, and pass ``presign`` only for its owner:
    the URL itself carries the permission, to whoever holds it until it expires.
    """
    key = _clean(key)
    if is_remote():
        store = objects()
        if not store.exists(key):
            raise Http404("The file is not in the object store.")
        if not presign:
            return FileResponse(store.open(key, "rb"), as_attachment=True, filename=filename, content_type=content_type)
        return HttpResponseRedirect(presigned_url(store, key, filename))
    path = media_path(key)
    if not path.exists():
        raise Http404("The file is missing.")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=filename, content_type=content_type)


def presigned_url(store: Storage, key: str, filename: str) -> str:
    """A short-lived GET link that downloads ``key`` as ``filename``.

    Signed for ``OBJECT_STORAGE_PUBLIC_URL`` when set (the store's address as browsers reach it, e.g.
    ``http://localhost:9000`` for the compose MinIO that the app itself reaches as ``http://minio:9000``:
    a signature covers the host, so it cannot be rewritten afterwards).
    """
    disposition = f'attachment; filename="{filename}"'
    if not settings.OBJECT_STORAGE_PUBLIC_URL:
        return store.url(key, parameters={"ResponseContentDisposition": disposition},
                         expire=settings.AWS_QUERYSTRING_EXPIRE)
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=settings.OBJECT_STORAGE_PUBLIC_URL, region_name=settings.AWS_S3_REGION_NAME,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID, aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": settings.AWS_S3_ADDRESSING_STYLE}))
    return client.generate_presigned_url(
        "get_object", ExpiresIn=settings.AWS_QUERYSTRING_EXPIRE,
        Params={"Bucket": store.bucket_name, "Key": store._normalize_name(key), "ResponseContentDisposition": disposition})


def delete_prefix(prefix: str) -> int:
    """Remove every stored object under ``prefix`` (a folder key); return how many went."""
    prefix = _clean(prefix).rstrip("/")
    if not prefix or prefix in (".", "datasets", "jobs"):
        raise ValueError(f"refusing to delete the store prefix {prefix!r}")
    store = objects()
    if hasattr(store, "bucket"):
        deleted = store.bucket.objects.filter(Prefix=store._normalize_name(prefix) + "/").delete()
        return sum(len(batch.get("Deleted", [])) for batch in deleted)
    folder = Path(store.path(prefix))
    count = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
    shutil.rmtree(folder, ignore_errors=True)
    return count


def _clean(key: str) -> str:
    key = str(key).replace(os.sep, "/").lstrip("/")
    if ".." in key.split("/"):
        raise ValueError(f"a store key may not climb out of its folder: {key!r}")
    return key


def _is_own_file(store: Storage, local_path: Path, key: str) -> bool:
    """True when the store is a local folder and ``local_path`` already is the key's file."""
    if hasattr(store, "bucket"):
        return False
    return Path(store.path(key)).resolve() == local_path.resolve()
