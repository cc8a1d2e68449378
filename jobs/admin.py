"""Admin for jobs and workers."""
from django.contrib import admin

from . import services
from .models import Job, Worker


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "algorithm", "kind", "dataset", "owner", "status", "progress", "device", "attempts", "created_at")
    list_filter = ("status", "kind", "algorithm", "device", "owner")
    search_fields = ("name", "algorithm", "dataset__name", "owner__username", "celery_task_id")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel"]
    list_select_related = ("dataset", "owner")
    show_full_result_count = False
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


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ("hostname", "queues", "has_cuda", "device_name", "online", "last_seen")
    readonly_fields = [f.name for f in Worker._meta.fields]
