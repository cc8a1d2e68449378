from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry and scoring"

    def ready(self) -> None:
        from datasets.kinds import register_kind
        from jobs.charts import register_kind_charts
        from jobs.registry import register

        from .kinds import PREDICTIONS_KIND, ROWS_KIND
        from .scoring_job import SCORING_ALGORITHM

        register_kind(ROWS_KIND)
        register_kind(PREDICTIONS_KIND)
        register(SCORING_ALGORITHM)
        register_kind_charts("scoring", panel="registry/_scoring_panel.html")
