from django.apps import AppConfig


class ModelingConfig(AppConfig):
    name = "modeling"
    verbose_name = "CTR modeling"

    def ready(self) -> None:
        from datasets.kinds import register_kind
        from jobs.registry import register

        from .algorithms import CTR_ALGORITHMS
        from .kinds import CTR_KIND

        register_kind(CTR_KIND)
        register(*CTR_ALGORITHMS)
        from .distill import SUAN_ALGORITHMS
        register(*SUAN_ALGORITHMS)
