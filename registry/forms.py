"""Forms of the registry pages: promote a run, score new rows."""
from __future__ import annotations

from django import forms


class PromoteForm(forms.Form):
    name = forms.SlugField(max_length=100, label="Model name", help_text="Letters, digits, - and _; a new name starts at version 1.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Notes")
    production = forms.BooleanField(required=False, label="Make it the production version now")


class ScoreForm(forms.Form):
    model = forms.ChoiceField(required=False, label="Registered model (its production version)")
    source_job = forms.ChoiceField(required=False, label="…or a finished run")
    file = forms.FileField(required=False, label="New rows (CSV or Parquet)")
    dataset = forms.ChoiceField(required=False, label="…or a dataset already uploaded")

    def __init__(self, *args, models=(), runs=(), datasets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "—")] + [(n, n) for n in models]
        self.fields["source_job"].choices = [("", "—")] + [(str(j.pk), f"#{j.pk} {j.display_name} ({j.kind}, {j.dataset.name})") for j in runs]
        self.fields["dataset"].choices = [("", "—")] + [(str(d.pk), f"{d.name} ({d.n_rows:,} rows)") for d in datasets]

    def clean(self):
        data = super().clean()
        if not data.get("model") and not data.get("source_job"):
            raise forms.ValidationError("Choose a registered model or a finished run.")
        if not data.get("file") and not data.get("dataset"):
            raise forms.ValidationError("Upload a file of new rows or choose a dataset.")
        return data
