"""Admin for jobs and workers."""
from django.contrib import admin

from ctrsite.pagination import CappedCountPaginator
from datasets.admin import KindFilter  # choices from the kind registry, not a SELECT DISTINCT over every job

from . import services
from .models import Job, Worker
from .registry import all_algorithms


class AlgorithmFilter(KindFilter):
    title, parameter_name = "algorithm", "algorithm"

    def lookups(self, request, model_admin):
        return sorted((a.key, a.label) for a in all_algorithms())

    def queryset(self, request, queryset):
        return queryset.filter(algorithm=self.value()) if self.value() else queryset


class DeviceFilter(KindFilter):
    title, parameter_name = "device", "device"

    def lookups(self, request, model_admin):
        return (("cpu", "CPU"), ("cuda", "GPU (CUDA)"))

    def queryset(self, request, queryset):
        return queryset.filter(device=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    # Status and progress first: on a 390 px phone they stay on screen (static/css/admin.css hides the rest).
    list_display = ("id", "status", "progress_percent", "algorithm", "dataset", "kind", "owner", "device", "attempts",
                    "created_at")
    list_filter = ("status", KindFilter, AlgorithmFilter, DeviceFilter, "owner")
    search_fields = ("name", "algorithm", "dataset__name", "owner__username", "celery_task_id")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel"]
    list_select_related = ("dataset", "owner")
    show_full_result_count = False
    paginator = CappedCountPaginator
    # the changelist reads only what its columns show: no curves, metrics, logs or dataset JSON
    CHANGELIST_FIELDS = ("id", "algorithm", "kind", "dataset", "owner", "status", "progress", "device", "attempts",
                         "created_at", "dataset__id", "dataset__name", "dataset__kind", "dataset__n_rows",
                         "owner__id", "owner__username")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if getattr(request.resolver_match, "url_name", "").endswith("changelist"):
            qs = qs.only(*self.CHANGELIST_FIELDS)
        return qs

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
