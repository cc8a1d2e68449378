from django.contrib import admin

from . import services
from .models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "kind", "algorithm", "job", "is_production", "created_by", "created_at"]
    list_filter = ["kind", "is_production"]
    search_fields = ["name", "notes"]
    readonly_fields = ["name", "version", "job", "kind", "algorithm", "metrics", "schema", "is_production", "created_by",
                       "created_at"]
    actions = ["make_production"]

    @admin.action(description="Make the selected version production (one per name)")
    def make_production(self, request, queryset):
        for version in queryset:
            services.set_production(version)
