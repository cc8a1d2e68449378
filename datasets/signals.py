"""Remove a dataset's folder when its row is deleted (admin, API, page or cascade)."""
import logging
import shutil
from pathlib import Path

from django.db.models.signals import post_delete
from django.dispatch import receiver

from filestore import services as filestore

from .models import Dataset

logger = logging.getLogger(__name__)


@receiver(post_delete, sender=Dataset)
def delete_dataset_files(sender, instance: Dataset, **kwargs) -> None:
    shutil.rmtree(instance.folder, ignore_errors=True)
    folder = Path(instance.file_path).parent.as_posix()
    if filestore.is_remote() and instance.file_path and folder.startswith("datasets/"):
        try:
            filestore.delete_prefix(folder)
        except Exception as exc:  # noqa: BLE001 - the row is gone either way; say what was left behind
            logger.warning("dataset %s: could not delete %s from the object store (%s)", instance.pk, folder, exc)
