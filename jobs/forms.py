"""The new-job form: dataset, algorithm, and one field per hyperparameter the algorithm declares."""
from __future__ import annotations

from django import forms

from mlcore.api import Algorithm, Param

from .labels import bounds, label
from .models import Job
from .registry import algorithms_for_kind, all_algorithms


def param_field(param: Param) -> forms.Field:
    """A form field for ``param`` with its default, bounds and help text."""
    help_text, name = param.help, label(param.name)
    attrs = {}
    if param.type in ("int", "float"):
        if param.min is not None:
            attrs["min"] = param.min
        if param.max is not None:
            attrs["max"] = param.max
        attrs["step"] = "1" if param.type == "int" else "any"
        range_text = bounds(param.min, param.max, integer=param.type == "int")
        help_text = f"{param.help} {range_text}" if range_text else param.help
        return forms.CharField(initial=param.default, help_text=help_text, required=False, label=name,
                               widget=forms.NumberInput(attrs=attrs))
    if param.type == "bool":
        return forms.BooleanField(initial=param.default, required=False, help_text=help_text, label=name)
    if param.type == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in param.choices], initial=param.default, help_text=help_text,
                                 required=False, label=name)
    return forms.CharField(initial=param.default, required=False, help_text=help_text, label=name)


ROLE_HELP = {
    "label": "the binary click column (0/1)",
    "sequence": "the user's past items, one list per row: ids separated by | ^ , or ; (e.g. 123^456^789) or a Parquet list",
}
SEQUENCE_OPTIONAL_HELP = (
    "Also used when present: item_id, the target item whose ids the sequence holds (or name the sequence after a "
    "categorical column, e.g. hist_cate_id); user_id, for GAUC and per-user model selection; a second sequence column "
    "named …_time with one time per behaviour, for time-aware models such as TIN; a sequence named hist_<label column> "
    "(e.g. hist_label) or hist_action with the user's feedback on / action type of each behaviour."
)


def role_requirements(algorithm: Algorithm | None, dataset) -> dict:
    """What the algorithm needs from the dataset's column roles, and which of those roles it lacks."""
    if algorithm is None:
        return {"needed": [], "missing": [], "optional": ""}
    needed = [(role, ROLE_HELP.get(role, "")) for role in algorithm.required_roles]
    missing = [role for role in algorithm.required_roles if dataset is not None and not dataset.columns_with_role(role)]
    optional = SEQUENCE_OPTIONAL_HELP if "sequence" in algorithm.required_roles else ""
    return {"needed": needed, "missing": missing, "optional": optional}


class JobForm(forms.Form):
    dataset = forms.ChoiceField(choices=())
    algorithm = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=200, required=False, help_text="Optional; shown in lists and comparisons.")
    device_preference = forms.ChoiceField(choices=Job.DevicePreference.choices, initial=Job.DevicePreference.AUTO,
                                          label="Device")

    def __init__(self, *args, datasets, dataset=None, algorithm: Algorithm | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "— choose a dataset —")] + [
            (str(d.pk), f"{d.name} ({d.kind}, {d.n_rows:,} rows)") for d in datasets
        ]
        algos = algorithms_for_kind(dataset.kind) if dataset is not None else all_algorithms()
        self.fields["algorithm"].choices = [(a.key, f"{a.label}") for a in algos]
        self.algorithm = algorithm
        if algorithm is not None:
            for param in algorithm.params:
                self.fields[f"param__{param.name}"] = param_field(param)

    def param_fields(self):
        return [self[name] for name in self.fields if name.startswith("param__")]

    def raw_params(self) -> dict:
        data = self.cleaned_data
        return {name.removeprefix("param__"): value for name, value in data.items() if name.startswith("param__")}
