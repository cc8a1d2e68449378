"""ECUP and the deep baselines: the spec's shape checklist, gates, equivariance, gradients, overfitting,
and all-arm scoring in one pass equal to scoring each arm separately."""
import pytest
import torch

from modeling.schema import CategoricalField, FeatureSchema
from uplift.nets import ECUP, DragonNet, SLearner, TARNet, TLearner, chain_loss

SCHEMA = FeatureSchema(categorical=(CategoricalField("city", 6), CategoricalField("device", 4)),
                       numeric=("f0", "f1", "f2"))
F = 5  # fields
K = 3  # treated arms
D = 16
ALL_NETS = (ECUP, SLearner, TLearner, TARNet, DragonNet)


def make_batch(n: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    click = torch.randint(0, 2, (n,), generator=g).float()
    return {"cat": torch.stack([torch.randint(0, 6, (n,), generator=g), torch.randint(0, 4, (n,), generator=g)], 1),
            "num": torch.randn(n, 3, generator=g), "treatment": torch.randint(0, K + 1, (n,), generator=g),
            "click": click, "conversion": click * torch.randint(0, 2, (n,), generator=g).float()}


def test_ecup_intermediate_shapes_follow_the_spec():
    torch.manual_seed(0)
    model = ECUP(SCHEMA, K, embedding_dim=D, tower_hidden=(32, 24)).eval()
    batch = make_batch(7)
    parts = model.intermediates(batch)
    assert parts["E"].shape == (7, F, D)
    assert parts["e_t"].shape == (7, 1, D)
    assert parts["E_r"].shape == parts["bit_gate"].shape == (7, F, D)
    assert parts["Z"].shape == (7, F + 1, D)
    assert parts["h0"].shape == (7, (F + 1) * D)
    assert [g.shape for g in parts["gates_ctr"]] == [(7, 32), (7, 24)]
    assert parts["logit_ctr"].shape == parts["logit_cvr"].shape == (7,)
    out = model.uplift(batch)
    for key in ("p_ctr", "p_ctcvr", "uplift_ctr", "uplift_ctcvr"):
        assert out[key].shape == (7, K + 1)


@pytest.mark.parametrize("net", ALL_NETS)
def test_ctcvr_never_exceeds_ctr_and_control_uplift_is_zero(net):
    torch.manual_seed(1)
    out = net(SCHEMA, K).eval().uplift(make_batch(20))
    assert torch.all(out["p_ctcvr"] <= out["p_ctr"])
    assert torch.all(out["uplift_ctr"][:, 0] == 0) and torch.all(out["uplift_ctcvr"][:, 0] == 0)
    assert torch.allclose(out["uplift_ctr"][:, 1:], out["p_ctr"][:, 1:] - out["p_ctr"][:, :1])


def test_gates_stay_in_range_and_zero_weights_give_neutral_gates():
    torch.manual_seed(2)
    model = ECUP(SCHEMA, K, gate_gamma=2.0).eval()
    parts = model.intermediates(make_batch())
    assert torch.all((parts["bit_gate"] > 0) & (parts["bit_gate"] < 1))
    for gate in parts["gates_ctr"] + parts["gates_cvr"]:
        assert torch.all((gate > 0) & (gate < 2.0))
    for task_gate in model.task_gates:
        torch.nn.init.zeros_(task_gate.mlp[-1].weight)
        torch.nn.init.zeros_(task_gate.mlp[-1].bias)
    parts = model.intermediates(make_batch())
    for gate in parts["gates_ctr"] + parts["gates_cvr"]:
        assert torch.equal(gate, torch.ones_like(gate))


def test_ecup_features_outweigh_the_constant_offset_in_the_enhanced_embeddings_at_initialisation():
    # With the CTR embeddings' 0.01 init, TENet's attention bias made E_r mostly a per-arm constant
    # (row-to-row spread ~0.5 of the offset) and training on the generated chain stalled.
    schema = FeatureSchema(numeric=tuple(f"f{i}" for i in range(12)))
    num = torch.randn(512, 12, generator=torch.Generator().manual_seed(0))
    batch = {"cat": torch.zeros(512, 0, dtype=torch.long), "num": num,
             "treatment": torch.zeros(512, dtype=torch.long)}
    for seed in range(3):
        torch.manual_seed(seed)
        with torch.no_grad():
            e_r = ECUP(schema, 2).eval().intermediates(batch)["E_r"].flatten(1)  # (B, F·d)
        assert e_r.std(0).mean() > 2 * e_r.mean(0).abs().mean()


@pytest.mark.parametrize("interaction", ["hadamard", "concat"])
def test_treatment_enhanced_net_is_permutation_equivariant_over_fields(interaction):
    torch.manual_seed(3)
    model = ECUP(SCHEMA, K, interaction=interaction).eval()
    e = torch.randn(4, F, D)
    e_t = torch.randn(4, 1, D)
    perm = torch.tensor([3, 0, 4, 1, 2])
    out, gate = model.tenet(e, e_t)
    out_p, gate_p = model.tenet(e[:, perm], e_t)
    assert torch.allclose(out[:, perm], out_p, atol=1e-6) and torch.allclose(gate[:, perm], gate_p, atol=1e-6)


@pytest.mark.parametrize("net", ALL_NETS)
def test_gradients_reach_every_parameter(net):
    torch.manual_seed(4)
    model = net(SCHEMA, K, dropout=0.0)
    batch = make_batch(64)
    batch["treatment"] = torch.arange(64) % (K + 1)  # every arm's head sees rows
    batch["click"] = torch.ones(64)
    batch["click"][::3] = 0
    batch["conversion"] = batch["click"] * (torch.arange(64) % 2).float()
    model.loss(batch).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing


@pytest.mark.parametrize("net", [ECUP, TARNet])
def test_tiny_batch_can_be_overfit(net):
    torch.manual_seed(5)
    model = net(SCHEMA, K, dropout=0.0)
    batch = make_batch(24, seed=5)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.loss(batch).item()
    for _ in range(100):
        optimiser.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.1 * first


@pytest.mark.parametrize("net", ALL_NETS)
def test_one_pass_all_arm_scoring_equals_scoring_each_arm(net):
    torch.manual_seed(6)
    model = net(SCHEMA, K).eval()
    batch = make_batch(16)
    together = model.uplift(batch)
    with torch.no_grad():
        for arm in range(K + 1):
            single = dict(batch, treatment=torch.full((16,), arm))
            out = model(single)
            p_ctr = torch.sigmoid(out["logit_ctr"])
            assert torch.allclose(together["p_ctr"][:, arm], p_ctr, atol=1e-6)
            assert torch.allclose(together["p_ctcvr"][:, arm], p_ctr * torch.sigmoid(out["logit_cvr"]), atol=1e-6)


def test_chain_loss_matches_explicit_bce_and_is_finite_for_extreme_logits():
    ctr, cvr = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([-0.5, 0.4, 1.0])
    click, conv = torch.tensor([1.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0])
    p_ctr, p_ctcvr = torch.sigmoid(ctr), torch.sigmoid(ctr) * torch.sigmoid(cvr)
    expected = (torch.nn.functional.binary_cross_entropy(p_ctr, click)
                + torch.nn.functional.binary_cross_entropy(p_ctcvr, click * conv))
    assert torch.allclose(chain_loss(ctr, cvr, click, conv), expected, atol=1e-6)
    extreme = chain_loss(torch.tensor([60.0, -60.0]), torch.tensor([60.0, -60.0]), torch.tensor([0.0, 1.0]),
                         torch.tensor([0.0, 1.0]))
    assert torch.isfinite(extreme)


def test_dragonnet_loss_includes_the_propensity_term():
    torch.manual_seed(7)
    batch = make_batch(32)
    with_term = DragonNet(SCHEMA, K, dropout=0.0, propensity_weight=1.0)
    without = DragonNet(SCHEMA, K, dropout=0.0, propensity_weight=0.0)
    without.load_state_dict(with_term.state_dict())
    assert with_term.loss(batch).item() > without.loss(batch).item() + 0.5  # CE of ~uniform 4-way ≈ log 4
