"""Admin for datasets: search, filters, a preview, deletion that removes files, re-validation."""
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from ctrsite.pagination import CappedCountPaginator

from . import services
from .kinds import kind_choices
from .models import Dataset, UploadSession


class KindFilter(admin.SimpleListFilter):
    """Choices from the kind registry, not a ``SELECT DISTINCT`` over every dataset."""

    title, parameter_name = "kind", "kind"

    def lookups(self, request, model_admin):
        return kind_choices()

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "status", "source", "n_rows", "size_mb", "created_at")
    list_filter = (KindFilter, "status", "source", "owner")
    search_fields = ("name", "original_filename", "description", "owner__username", "sha256")
    readonly_fields = ("owner", "file_path", "original_filename", "file_format", "delimiter", "size_bytes", "sha256",
                       "n_rows", "columns_table", "preview_table", "errors", "warnings", "created_at", "validated_at",
                       "columnar_path", "progress", "requested_roles")
    exclude = ("columns", "preview")
    actions = ["revalidate"]
    list_select_related = ("owner",)
    show_full_result_count = False
    paginator = CappedCountPaginator

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if getattr(request.resolver_match, "url_name", "").endswith("changelist"):  # no column JSON in the list
            qs = qs.defer("columns", "preview", "errors", "warnings", "description")
        return qs

    @admin.display(description="Size (MB)", ordering="size_bytes")
    def size_mb(self, obj: Dataset) -> str:
        return f"{obj.size_bytes / 1024 / 1024:,.2f}"

    @admin.display(description="Columns")
    def columns_table(self, obj: Dataset):
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td></tr>",
                                ((c["name"], c["dtype"], c["role"], c["missing_pct"], c["distinct"]) for c in obj.columns))
        return format_html("<table><tr><th>Column</th><th>Type</th><th>Role</th><th>Missing</th><th>Distinct</th></tr>{}</table>", rows)

    @admin.display(description="Preview (first rows)")
    def preview_table(self, obj: Dataset):
        header = format_html_join("", "<th>{}</th>", ((c,) for c in obj.preview.get("columns", [])))
        body = format_html_join("", "<tr>{}</tr>", (
            (format_html_join("", "<td>{}</td>", (("" if v is None else v,) for v in row)),) for row in obj.preview.get("rows", [])[:10]
        ))
        return format_html('<div style="overflow:auto;max-width:1100px"><table><tr>{}</tr>{}</table></div>', header, body)

    @admin.action(description="Re-run validation on the stored file")
    def revalidate(self, request, queryset):
        for dataset in queryset:
            services.revalidate_dataset(dataset)
            level = messages.SUCCESS if dataset.status == Dataset.Status.READY else messages.WARNING
            self.message_user(request, f"{dataset.name}: {dataset.get_status_display()} {' '.join(dataset.errors)}", level)

    def has_add_permission(self, request) -> bool:
        return False  # uploads go through the upload page or the API, which validate the file


@admin.register(UploadSession)
class UploadSessionAdmin(admin.ModelAdmin):
    """Chunked uploads in progress (read-only; an abandoned one can be deleted with its staging file)."""

    list_display = ("id", "owner", "filename", "size", "received", "created_at", "updated_at")
    readonly_fields = ("id", "owner", "filename", "size", "received", "created_at", "updated_at")
    search_fields = ("filename", "owner__username")

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj: UploadSession) -> None:
        obj.path.unlink(missing_ok=True)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for session in queryset:
            session.path.unlink(missing_ok=True)
        super().delete_queryset(request, queryset)
