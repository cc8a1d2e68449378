"""Hyperparameter declarations: defaults, coercion, bounds and clear errors."""
import pytest

from mlcore.api import Param, ParamError, validate_params

SPEC = (
    Param("epochs", "int", 5, min=1, max=100),
    Param("lr", "float", 1e-3, min=1e-6, max=1.0, log=True),
    Param("optimizer", "choice", "adam", choices=("adam", "adamw")),
    Param("batch_norm", "bool", False),
)


def test_defaults_fill_missing_values():
    assert validate_params(SPEC, {}) == {"epochs": 5, "lr": 1e-3, "optimizer": "adam", "batch_norm": False}


def test_strings_from_forms_are_coerced():
    clean = validate_params(SPEC, {"epochs": "7", "lr": "0.01", "batch_norm": "on"})
    assert clean["epochs"] == 7 and clean["lr"] == 0.01 and clean["batch_norm"] is True


@pytest.mark.parametrize("raw, field, message", [
    ({"epochs": 0}, "epochs", "at least 1"),
    ({"epochs": 2.5}, "epochs", "whole number"),
    ({"lr": "fast"}, "lr", "expected a number"),
    ({"lr": "nan"}, "lr", "finite"),
    ({"lr": 3}, "lr", "at most 1"),
    ({"optimizer": "sgd"}, "optimizer", "one of adam, adamw"),
    ({"epocs": 3}, "epocs", "unknown hyperparameter"),
])
def test_impossible_values_are_rejected_with_the_reason(raw, field, message):
    with pytest.raises(ParamError) as err:
        validate_params(SPEC, raw)
    assert message in err.value.errors[field]
