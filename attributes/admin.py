from django.contrib import admin

from .models import ExtractedValue


@admin.register(ExtractedValue)
class ExtractedValueAdmin(admin.ModelAdmin):
    list_display = ("product_id", "attribute", "value", "confidence", "status", "stated", "job")
    list_filter = ("status", "stated", "is_new_value")
    search_fields = ("product_id", "attribute", "value")
    raw_id_fields = ("job", "dataset", "reviewed_by")
    show_full_result_count = False  # no COUNT(*) over a million rows on each page
