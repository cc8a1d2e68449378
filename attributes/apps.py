from django.apps import AppConfig


class AttributesConfig(AppConfig):
    name = "attributes"
    verbose_name = "Attribute extraction"

    def ready(self) -> None:
        from datasets.kinds import register_kind
        from jobs.charts import register_kind_charts
        from jobs.registry import register

        from .algorithms import ATTRIBUTE_ALGORITHMS
        from .charts import comparison_charts, job_charts
        from .kinds import ATTRIBUTES_KIND
        from .services import with_extracted_values

        register_kind(ATTRIBUTES_KIND)
        register(*(with_extracted_values(a) for a in ATTRIBUTE_ALGORITHMS))
        register_kind_charts("attributes", job=job_charts, comparison=comparison_charts,
                             panel="attributes/_job_panel.html")
