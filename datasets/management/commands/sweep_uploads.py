"""Remove staging folders and upload temp files that unfinished uploads left behind."""
from django.core.management.base import BaseCommand

from datasets.sweep import sweep_uploads


class Command(BaseCommand):
    help = "Remove orphan upload files older than UPLOAD_STALE_SECONDS (or --older-than seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=None, help="seconds; default UPLOAD_STALE_SECONDS")

    def handle(self, *args, older_than=None, **options):
        result = sweep_uploads(older_than=older_than)
        self.stdout.write(f"removed {len(result.removed)} entr{'y' if len(result.removed) == 1 else 'ies'}, "
                          f"{result.bytes_freed / 2**20:.1f} MB")
