"""Small template helpers for the job pages."""
from django import template

register = template.Library()


@register.filter
def dict_get(mapping, key):
    """``{{ mapping|dict_get:key }}``: look up a key that is held in a variable."""
    return mapping.get(key) if hasattr(mapping, "get") else None
