"""Remove a job's work folder (checkpoints, model, log) when its row is deleted."""
import shutil

from django.db.models.signals import post_delete
from django.dispatch import receiver

from . import files
from .models import Job


@receiver(post_delete, sender=Job)
def delete_job_files(sender, instance: Job, **kwargs) -> None:
    shutil.rmtree(instance.workdir, ignore_errors=True)
    files.delete(instance)
