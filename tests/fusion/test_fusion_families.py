"""The fusion families beyond concat/late/gated/attention: mask contract with NaN placeholders, DP compatibility
inside a tiny net (or a reported refusal), graph inductiveness, and each family's own semantics."""

from __future__ import annotations

import copy

import pytest
import torch
from opacus import GradSampleModule
from torch import Tensor, nn

from nextgen_ml.fusion import DP_REFUSED
from nextgen_ml.fusion.subspace import product_of_experts
from nextgen_ml.fusion.tensor import auto_proj_dim
from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.privacy import assert_dp_compatible, dp_problems
from nextgen_ml.registry import create_fusion, list_fusions
from tests.fusion.inputs import CONFIGS, EMBED, IN_DIMS, PATTERNS, TOKENS, build, make_inputs


def poison(feats: dict[str, Tensor], mask: dict[str, Tensor], value: float) -> dict[str, Tensor]:
    """Replace the rows of absent modalities by ``value``."""
    out = {}
    for m, x in feats.items():
        rows = mask[m].view(-1, *([1] * (x.ndim - 1)))
        out[m] = torch.where(rows, x, torch.full_like(x, value))
    return out


def test_at_least_twelve_fusion_families_are_registered() -> None:
    assert len(list_fusions()) >= 12


@pytest.mark.parametrize("config", CONFIGS)
def test_nan_placeholders_equal_zero_placeholders_and_keep_gradients_finite(config: str) -> None:
    fusion = build(config).eval()  # eval: no sampling (subspace) and no memory writes (graph) between the calls
    feats, mask = make_inputs(fusion)
    zeros = fusion(poison(feats, mask, 0.0), mask)
    nan = fusion(poison(feats, mask, float("nan")), mask)
    assert nan.shape == (len(PATTERNS), EMBED) and torch.isfinite(nan).all()
    assert torch.equal(nan, zeros)
    train_out = fusion.train()(poison(feats, mask, float("nan")), mask)
    assert torch.isfinite(train_out).all()
    train_out.square().sum().backward()
    grads = {n: p.grad for n, p in fusion.named_parameters() if p.grad is not None}
    assert grads and all(torch.isfinite(g).all() for g in grads.values())


class TinyEncoder(nn.Module):
    """Linear encoder with the encoder contract (``out_dim``, ``forward``, ``forward_tokens``)."""

    def __init__(self, in_dim: int, out_dim: int, tokens: int) -> None:
        super().__init__()
        self.out_dim, self.tokens = out_dim, tokens
        self.lin = nn.Linear(in_dim, out_dim * tokens)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x)[:, : self.out_dim]  # (B, D)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.lin(x).view(x.shape[0], self.tokens, self.out_dim)  # (B, T, D)


def tiny_net(config: str) -> MultimodalNet:
    name, kwargs = CONFIGS[config]
    torch.manual_seed(0)
    encoders = nn.ModuleDict({m: TinyEncoder(4, d, TOKENS[m]) for m, d in IN_DIMS.items()})
    fusion = create_fusion(name, in_dims=IN_DIMS, embed_dim=EMBED, **kwargs)
    return MultimodalNet(encoders, fusion, nn.Linear(EMBED, 2))


def tiny_batch() -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(5)
    inputs = {m: torch.randn(len(PATTERNS), 4, generator=gen) for m in IN_DIMS}
    mask = {m: torch.tensor([p[i] for p in PATTERNS]) for i, m in enumerate(IN_DIMS)}
    return inputs, mask


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("config", CONFIGS)
def test_tiny_net_under_grad_sample_module_or_refused(config: str) -> None:
    net = tiny_net(config)
    name = CONFIGS[config][0]
    if name in DP_REFUSED:
        problems = dp_problems(net)
        assert any(DP_REFUSED[name] in p for p in problems), problems
        with pytest.raises(ValueError, match="refused under differential privacy"):
            assert_dp_compatible(net)
        return
    assert dp_problems(net) == []
    inputs, mask = tiny_batch()
    model = GradSampleModule(net, loss_reduction="sum")
    out = model(inputs, mask)
    # as DP training does (DPObjective): a fusion's own per-row loss (the subspace ELBO) joins each row's loss
    (out["logits"].sum() + out.get("aux_loss", torch.zeros(())).sum()).backward()
    for pname, p in net.named_parameters():
        assert p.grad_sample is not None, pname
        assert p.grad_sample.shape == (len(PATTERNS), *p.shape), pname
        torch.testing.assert_close(p.grad_sample.sum(0), p.grad, rtol=1e-4, atol=1e-5, msg=pname)
    model._close()


def test_dp_refusals_name_a_registered_fusion_and_a_reason() -> None:
    assert set(DP_REFUSED) <= set(list_fusions())
    assert "graph" in DP_REFUSED and all(len(reason) > 40 for reason in DP_REFUSED.values())


# --- graph fusion: inductive --------------------------------------------------------------------------------------


def graph_batch(seed: int, n: int) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(n, d, generator=gen) for m, d in IN_DIMS.items()}
    mask = {m: torch.rand(n, generator=gen) < 0.8 for m in IN_DIMS}
    return feats, mask


def test_graph_test_patients_never_change_training_outputs_or_gradients() -> None:
    torch.manual_seed(0)
    fusion = create_fusion("graph", in_dims=IN_DIMS, embed_dim=EMBED, num_heads=2, bank_size=32)
    fusion.train()
    fusion(*graph_batch(1, 12))  # training patients enter the graph
    assert int(fusion.memory.count) > 0
    twin = copy.deepcopy(fusion)

    # path A: score many test patients (eval), then a training step
    bank = fusion.memory.bank.clone()
    fusion.eval()
    with torch.no_grad():
        fusion(*graph_batch(2, 50))
    assert torch.equal(fusion.memory.bank, bank) and int(fusion.memory.count) == int(twin.memory.count)
    fusion.train()
    train_feats, train_mask = graph_batch(3, 10)
    out_a = fusion(train_feats, train_mask)
    out_a.square().sum().backward()

    # path B: the same training step without ever seeing the test patients
    out_b = twin(train_feats, train_mask)
    out_b.square().sum().backward()
    assert torch.equal(out_a, out_b)
    for (name, p), q in zip(fusion.named_parameters(), twin.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad), name


def test_graph_test_patients_attend_to_training_patients_only() -> None:
    torch.manual_seed(0)
    fusion = create_fusion("graph", in_dims=IN_DIMS, embed_dim=EMBED, num_heads=2, bank_size=8)
    test_feats, test_mask = graph_batch(4, 6)
    fusion.eval()
    empty = fusion(test_feats, test_mask)
    fusion.train()
    train_feats, train_mask = graph_batch(5, 20)
    fusion(train_feats, train_mask)
    assert int(fusion.memory.count) == int(torch.stack(list(train_mask.values()), 1).any(1).sum())
    nodes, present = fusion.nodes(train_feats, train_mask)
    newest = nodes[present.any(1)][-8:].detach()  # FIFO: the bank holds the newest 8 training patients
    order = (int(fusion.memory.count) - 8 + torch.arange(8)) % 8
    torch.testing.assert_close(fusion.memory.entries()[0][order], newest)
    fusion.eval()
    with_graph = fusion(test_feats, test_mask)
    assert not torch.allclose(with_graph, empty)  # the training graph shapes test outputs
    # a test patient's output does not depend on the other test patients scored with it
    alone = fusion({m: x[:1] for m, x in test_feats.items()}, {m: k[:1] for m, k in test_mask.items()})
    torch.testing.assert_close(alone[0], with_graph[0])


def test_graph_built_from_one_modality() -> None:
    torch.manual_seed(0)
    fusion = create_fusion("graph", in_dims=IN_DIMS, embed_dim=EMBED, num_heads=2, bank_size=32, similarity="tabular")
    test_feats, test_mask = graph_batch(8, 12)
    fusion.eval()
    empty = fusion(test_feats, test_mask)
    fusion.train()
    train_feats, train_mask = graph_batch(9, 24)
    fusion(train_feats, train_mask)
    valid = fusion.memory.entries()[2]
    written = torch.stack(list(train_mask.values()), 1).any(1)
    assert torch.equal(valid, train_mask["tabular"][written])  # patients without tabular are no one's neighbour
    fusion.eval()
    with_graph = fusion(test_feats, test_mask)
    has = test_mask["tabular"]
    assert not torch.allclose(with_graph[has], empty[has])  # rows with tabular meet their training neighbours
    torch.testing.assert_close(with_graph[~has], empty[~has])  # rows without it have no neighbours
    with pytest.raises(ValueError, match="similarity"):
        create_fusion("graph", in_dims=IN_DIMS, similarity="text")


def test_graph_bank_is_in_the_state_dict() -> None:
    fusion = create_fusion("graph", in_dims=IN_DIMS, embed_dim=EMBED, num_heads=2, bank_size=8)
    fusion(*graph_batch(6, 4))
    state = fusion.state_dict()
    assert {"memory.bank", "memory.sims", "memory.valid", "memory.count", "memory.ptr"} <= set(state)
    clone = create_fusion("graph", in_dims=IN_DIMS, embed_dim=EMBED, num_heads=2, bank_size=8)
    clone.load_state_dict(state)
    feats, mask = graph_batch(7, 3)
    torch.testing.assert_close(clone.eval()(feats, mask), fusion.eval()(feats, mask))


# --- family semantics ---------------------------------------------------------------------------------------------


def test_subspace_aux_terms_and_product_of_experts() -> None:
    fusion = build("subspace").eval()
    feats, mask = make_inputs(fusion)
    out, aux = fusion.forward_with_aux(poison(feats, mask, float("nan")), mask)
    assert set(aux) == {"recon", "kl", "loss"} and all(v.shape == (len(PATTERNS),) for v in aux.values())
    assert all(torch.isfinite(v).all() for v in aux.values())
    assert aux["kl"][-1] == 0 and aux["recon"][-1] == 0  # no modality: the posterior is the prior
    assert (aux["kl"][:-1] > 0).all() and (aux["recon"][:-1] > 0).all()
    torch.testing.assert_close(out, fusion(feats, mask))
    # one expert N(m, v) times the prior N(0, 1): precision 1 + 1/v, mean (m/v) / (1 + 1/v)
    mu, logvar = torch.tensor([[[2.0], [5.0]]]), torch.tensor([[[0.0], [3.0]]])
    joint_mu, joint_logvar = product_of_experts(mu, logvar, torch.tensor([[True, False]]))
    torch.testing.assert_close(joint_mu, torch.tensor([[1.0]]))
    torch.testing.assert_close(joint_logvar, -torch.log(torch.tensor([[2.0]])))


def test_subspace_aux_loss_trains_the_reconstruction() -> None:
    torch.manual_seed(0)
    fusion = create_fusion("subspace", in_dims=IN_DIMS, embed_dim=EMBED, latent_dim=4, beta=0.01)
    feats, mask = make_inputs(fusion)
    opt = torch.optim.Adam(fusion.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        opt.zero_grad()
        _, aux = fusion.forward_with_aux(feats, mask)
        loss = aux["loss"].mean()
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    fusion.eval()
    recon = fusion.forward_with_aux(feats, mask)[1]["recon"]
    assert recon[:-1].mean() < 0.5 * first  # the shared latent learned to reconstruct the present modalities


def test_subspace_samples_in_training_only() -> None:
    fusion = build("subspace")
    feats, mask = make_inputs(fusion)
    assert not torch.equal(fusion(feats, mask), fusion(feats, mask))
    fusion.eval()
    assert torch.equal(fusion(feats, mask), fusion(feats, mask))


def test_tensor_fusion_size_and_errors() -> None:
    assert [auto_proj_dim(m) for m in (1, 2, 5, 7)] == [4095, 63, 4, 2]
    fusion = create_fusion("tensor", in_dims=IN_DIMS)
    assert (fusion.proj_dim + 1) ** 3 <= 4096 and fusion.product_dim == (fusion.proj_dim + 1) ** 3
    with pytest.raises(ValueError, match="max_product"):
        create_fusion("tensor", in_dims=IN_DIMS, proj_dim=32)
    with pytest.raises(ValueError, match="proj_dim"):
        create_fusion("tensor", in_dims=IN_DIMS, proj_dim=0)


def test_tensor_and_low_rank_absent_modality_contributes_its_one() -> None:
    for config in ("tensor", "low_rank"):
        fusion = build(config).eval()
        feats, mask = make_inputs(fusion)
        out = fusion(feats, mask)
        # with every modality absent the input is the "1"s only: the same constant as a batch of zeros
        zeros = {m: torch.zeros_like(x) for m, x in feats.items()}
        none = {m: torch.zeros_like(k) for m, k in mask.items()}
        torch.testing.assert_close(out[-1], fusion(zeros, none)[0])
    with pytest.raises(ValueError, match="rank"):
        create_fusion("low_rank", rank=0)


def test_weighted_decision_weights_renormalise_per_unit_and_per_sample() -> None:
    fusion = build("weighted_decision")
    feats, mask = make_inputs(fusion)
    w = fusion.weights(feats, mask)  # (B, M, E)
    present = torch.stack([mask[m] for m in sorted(IN_DIMS)], dim=1)
    assert w.shape == (len(PATTERNS), 3, EMBED)
    assert torch.all(w[~present] == 0)
    torch.testing.assert_close(w[:-1].sum(1), torch.ones(len(PATTERNS) - 1, EMBED))
    # per-sample confidence: two rows with every modality present get different weights
    two = {m: torch.cat([x[:1], x[:1] + 1.0]) for m, x in feats.items()}
    w2 = fusion.weights(two, {m: torch.ones(2, dtype=torch.bool) for m in IN_DIMS})
    assert not torch.allclose(w2[0], w2[1])
    static = build("weighted_decision_static")
    w3 = static.weights(two, {m: torch.ones(2, dtype=torch.bool) for m in IN_DIMS})
    torch.testing.assert_close(w3[0], w3[1])


def test_film_absent_conditioner_is_the_identity_modulation() -> None:
    fusion = build("film_tabular").eval()
    with torch.no_grad():
        for layer in fusion.film.values():
            layer.weight.normal_()
            layer.bias.normal_()
    feats, mask = make_inputs(fusion)
    out = fusion(feats, mask)
    row = 1  # pattern (True, True, False): ecg and image, no tabular
    h = torch.stack([fusion.proj[m](feats[m][row]) for m in ("ecg", "image")]).mean(0)
    torch.testing.assert_close(out[row], fusion.norm(h))
    row = 0  # every modality: ecg and image are modulated by tabular
    assert not torch.allclose(
        out[row], fusion.norm(torch.stack([fusion.proj[m](feats[m][row]) for m in sorted(IN_DIMS)]).mean(0))
    )
    with pytest.raises(ValueError, match="conditioner"):
        create_fusion("film", in_dims=IN_DIMS, conditioner="text")


@pytest.mark.parametrize(("config", "stacks"), [("directional_attention", 3), ("directional_attention_pairwise", 6)])
def test_directional_attention_stacks_and_sources(config: str, stacks: int) -> None:
    fusion = build(config).eval()
    assert len(fusion.stacks) == stacks  # one per target, or one per ordered pair (MulT)
    feats, mask = make_inputs(fusion)
    out = fusion(feats, mask)
    # changing the image tokens changes every row where image is present, and no other row
    changed = fusion(dict(feats, image=feats["image"] * 2.0), mask)
    assert not torch.allclose(changed[mask["image"]], out[mask["image"]])
    torch.testing.assert_close(changed[~mask["image"]], out[~mask["image"]], rtol=0, atol=0)
    # a target with no other modality present keeps its own tokens: the row holding only ecg is the pooled ecg
    row = 3  # pattern (True, False, False)
    ecg = fusion.pool_norm(fusion.proj["ecg"](feats["ecg"][row]).mean(0))
    parts = [ecg, fusion.missing["image"](1, ecg.device)[0], fusion.missing["tabular"](1, ecg.device)[0]]
    expected = fusion.out(torch.cat([*parts, torch.tensor([1.0, 0.0, 0.0])]))
    torch.testing.assert_close(out[row], expected)


def test_latent_attention_reads_every_modality() -> None:
    fusion = build("latent_attention").eval()
    feats, mask = make_inputs(fusion)
    out = fusion(feats, mask)
    for m in IN_DIMS:
        changed = fusion(dict(feats, **{m: feats[m] + 1.0}), mask)
        assert not torch.allclose(changed[mask[m]], out[mask[m]]), m
