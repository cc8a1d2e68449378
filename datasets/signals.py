"""Remove a dataset's folder when its row is deleted (admin, API, page or cascade)."""
import shutil

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Dataset


@receiver(post_delete, sender=Dataset)
def delete_dataset_files(sender, instance: Dataset, **kwargs) -> None:
    shutil.rmtree(instance.folder, ignore_errors=True)
