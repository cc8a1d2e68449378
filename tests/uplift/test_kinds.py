"""The uplift dataset kind: role guesses on upload and the checks that block or warn."""
from uplift.kinds import check_uplift, infer_uplift_roles


def column(name, role="numeric", values=None, dtype="int", missing=0, distinct=None):
    return {"name": name, "role": role, "values": values, "dtype": dtype, "missing": missing,
            "distinct": distinct if distinct is not None else len(values or {}) or 1000}


def hillstrom_like():
    return [
        column("recency"), column("history", dtype="float"),
        column("channel", "categorical", {"Web": 10, "Phone": 8, "Multichannel": 2}, "string"),
        column("segment", "categorical", {"Mens E-Mail": 10, "Womens E-Mail": 10, "No E-Mail": 10}, "string"),
        column("visit", "label", {"0": 25, "1": 5}), column("conversion", "categorical", {"0": 29, "1": 1}),
        column("spend", dtype="float"), column("true_uplift_click_1", dtype="float"),
    ]


def test_roles_are_guessed_from_names_and_control_like_values():
    columns = hillstrom_like()
    infer_uplift_roles(columns)
    roles = {c["name"]: c["role"] for c in columns}
    assert roles["segment"] == "treatment" and roles["visit"] == "visit" and roles["conversion"] == "conversion"
    assert roles["spend"] == "revenue" and roles["true_uplift_click_1"] == "ignore"
    assert roles["channel"] == "categorical"
    assert check_uplift(columns, 30) == ([], [])


def test_missing_and_non_binary_outcomes_block_training():
    columns = hillstrom_like()
    infer_uplift_roles(columns)
    for c in columns:
        if c["name"] == "conversion":
            c["values"] = {"0": 10, "1": 10, "2": 10}
        if c["name"] == "segment":
            c["role"] = "categorical"
    errors, _ = check_uplift(columns, 30)
    assert any("No treatment column" in e for e in errors)
    assert any("`conversion`" in e and "binary" in e for e in errors)


def test_rare_arms_and_unknown_control_are_warned():
    columns = [column("f0", dtype="float"), column("arm", "treatment", {"a": 96, "b": 4}, "string"),
               column("click", "click", {"0": 90, "1": 10}), column("conversion", "conversion", {"0": 99, "1": 1})]
    errors, warnings = check_uplift(columns, 100)
    assert errors == []
    assert any("control" in w for w in warnings) and any("'b'" in w for w in warnings)
