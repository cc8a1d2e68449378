"""Admin for jobs and workers."""
from django.contrib import admin

from . import services
from .models import Job, Worker


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    # Status and progress first: on a 390 px phone they stay on screen (static/css/admin.css hides the rest).
    list_display = ("id", "status", "progress_percent", "algorithm", "dataset", "kind", "owner", "device", "attempts",
                    "created_at")
    list_filter = ("status", "kind", "algorithm", "device", "owner")
    search_fields = ("name", "algorithm", "dataset__name", "owner__username", "celery_task_id")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel"]

    @admin.action(description="Cancel selected jobs")
    def cancel(self, request, queryset):
        for job in queryset:
            services.cancel_job(job)
        self.message_user(request, f"Asked {queryset.count()} job(s) to stop.")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Progress", ordering="progress")
    def progress_percent(self, job: Job) -> str:
        return f"{job.progress:.0%}"


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ("hostname", "queues", "has_cuda", "device_name", "online", "last_seen")
    readonly_fields = [f.name for f in Worker._meta.fields]
