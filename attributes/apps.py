from django.apps import AppConfig


class AttributesConfig(AppConfig):
    name = "attributes"
    verbose_name = "Attribute extraction"

    def ready(self) -> None:
        from datasets.kinds import register_kind
        from jobs.registry import register

        from .algorithms import ATTRIBUTE_ALGORITHMS
        from .kinds import ATTRIBUTES_KIND

        register_kind(ATTRIBUTES_KIND)
        register(*ATTRIBUTE_ALGORITHMS)
