from django.apps import AppConfig


class UpliftConfig(AppConfig):
    name = "uplift"
    verbose_name = "Uplift modeling"

    def ready(self) -> None:
        from datasets.kinds import register_kind
        from jobs.charts import register_kind_charts
        from jobs.registry import register

        from .algorithms import UPLIFT_ALGORITHMS
        from .charts import comparison_figures, job_figures
        from .kinds import UPLIFT_KIND

        register_kind(UPLIFT_KIND)
        register(*UPLIFT_ALGORITHMS)
        register_kind_charts(UPLIFT_KIND.key, job=job_figures, comparison=comparison_figures,
                             panel="uplift/_job_panel.html")
