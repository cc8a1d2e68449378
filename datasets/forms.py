"""Forms for uploading datasets and correcting column roles."""
from __future__ import annotations

from django import forms

from .kinds import get_kind, kind_choices

DELIMITER_CHOICES = [("", "Detect automatically"), (",", "Comma ,"), (";", "Semicolon ;"), ("\t", "Tab"), ("|", "Pipe |")]


class DatasetUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, gzip'd CSV (.csv.gz) or Parquet, UTF-8 text with a header row.")
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the file name.")
    kind = forms.ChoiceField(choices=(), initial="ctr")
    label_column = forms.CharField(max_length=200, required=False,
                                   help_text="Optional: the click column, when it is not called label or click.")
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices()

    def role_overrides(self) -> dict[str, str]:
        label = self.cleaned_data.get("label_column", "").strip()
        return {label: "label"} if label else {}


def role_choices(dataset) -> list[str]:
    """The roles a column of this dataset's kind can take, in the order the role menus list them."""
    return list(get_kind(dataset.kind).roles)


class RolesForm(forms.Form):
    """One select per column; built from the dataset's columns and its kind's roles."""

    def __init__(self, *args, dataset, **kwargs):
        super().__init__(*args, **kwargs)
        roles = role_choices(dataset)
        for column in dataset.columns:
            self.fields[f"role__{column['name']}"] = forms.ChoiceField(
                choices=[(r, r) for r in roles], initial=column["role"], label=column["name"]
            )

    def roles(self) -> dict[str, str]:
        return {name.removeprefix("role__"): value for name, value in self.cleaned_data.items()}
