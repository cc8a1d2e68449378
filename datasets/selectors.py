"""Read-only queries on datasets, with the visibility rule in one place."""
from django.db.models import QuerySet

from .models import Dataset


def datasets_visible_to(user) -> QuerySet[Dataset]:
    """Staff see every dataset; everyone else only their own."""
    qs = Dataset.objects.select_related("owner")
    if user.is_staff:
        return qs
    return qs.filter(owner=user)
