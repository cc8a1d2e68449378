from django.apps import AppConfig


class ModelingConfig(AppConfig):
    name = "modeling"
    verbose_name = "CTR modeling"

    def ready(self) -> None:
        from datasets.kinds import register_kind
        from jobs.registry import register

        from .algorithms import CTR_ALGORITHMS
        from .build_job import BUILD_ALGORITHM
        from .build_service import with_registered_table
        from .distill import SUAN_ALGORITHMS
        from .item_table import ITEM_TABLE_KIND, with_item_table
        from .kinds import CTR_KIND

        register_kind(CTR_KIND)
        register_kind(ITEM_TABLE_KIND)
        # sequence models resolve their `item_table` setting (a dataset id) into item vectors Django-side
        register(*(with_item_table(a) if any(p.name == "item_table" for p in a.params) else a
                   for a in CTR_ALGORITHMS + SUAN_ALGORITHMS))
        register(with_registered_table(BUILD_ALGORITHM))
