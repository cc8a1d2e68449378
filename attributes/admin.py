from django.contrib import admin

from ctrsite.pagination import CappedCountPaginator

from .models import ExtractedValue


@admin.register(ExtractedValue)
class ExtractedValueAdmin(admin.ModelAdmin):
    list_display = ("product_id", "attribute", "value", "confidence", "status", "stated", "job")
    list_filter = ("status", "stated", "is_new_value")
    search_fields = ("product_id", "attribute", "value")
    raw_id_fields = ("job", "dataset", "reviewed_by")
    show_full_result_count = False  # no COUNT(*) over a million rows on each page
    paginator = CappedCountPaginator
    list_select_related = ("job",)
    CHANGELIST_FIELDS = ("id", "product_id", "attribute", "value", "confidence", "status", "stated", "job",
                         "job__id", "job__algorithm", "job__status", "job__dataset_id")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if getattr(request.resolver_match, "url_name", "").endswith("changelist"):  # not the job's curves or log
            qs = qs.only(*self.CHANGELIST_FIELDS)
        return qs
