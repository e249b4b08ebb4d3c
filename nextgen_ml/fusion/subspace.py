"""Subspace fusion: a multimodal VAE latent with a product of experts over the present modalities (Wu & Goodman,
2018, "Multimodal Generative Models for Scalable Weakly-Supervised Learning"), trained jointly with the task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import check_in_dims, prepare_inputs
from nextgen_ml.layers import MLP
from nextgen_ml.registry import register_fusion


def product_of_experts(mu: Tensor, logvar: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
    """Gaussian product of a standard-normal prior expert and the experts of the present modalities.

    Shapes: ``mu, logvar (B, M, L)``, ``present (B, M)`` bool → ``(mu, logvar)`` each ``(B, L)``; a row with no
    modality gets the prior ``N(0, I)``.
    """
    precision = torch.exp(-logvar) * present[:, :, None].to(mu.dtype)  # (B, M, L), absent experts → 0
    total = 1.0 + precision.sum(dim=1)  # (B, L), the prior's precision is 1
    joint_mu = (precision * mu).sum(dim=1) / total  # (B, L), the prior's mean is 0
    return joint_mu, -torch.log(total)


class SubspaceFusion(nn.Module):
    """Each modality's encoder (an MLP) gives a Gaussian expert ``q(z | x_m) = N(mu_m, exp(logvar_m))`` over a
    ``latent_dim`` subspace; the joint posterior is the product of the experts of the **present** modalities and a
    ``N(0, I)`` prior expert, so any subset of modalities (and none) gives a valid posterior. In training ``z`` is
    sampled by reparameterisation, in eval it is the posterior mean; ``z`` goes through an MLP to ``embed_dim``.

    Per-modality decoders reconstruct each present modality's (detached) features from ``z``.
    :meth:`forward_with_aux` returns the per-row auxiliary ELBO terms; :meth:`forward` returns the fused embedding
    only, so the module also trains by the task loss alone (then it acts as a stochastic bottleneck).

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: output width.
        latent_dim: width ``L`` of the shared latent.
        hidden_dims: hidden widths of the expert encoders and decoders.
        beta: weight of the KL term in the auxiliary loss (0.1: at 1 the KL squashes the latent towards the prior
            and the predictions towards the base rate, docs/results.md §13).
        sample: sample ``z`` in training mode (False: always the posterior mean, deterministic).
        shield_encoders: compute the auxiliary terms from a second posterior over the **detached** features, so the
            ELBO trains the experts and decoders but never the encoders (unshielded, its KL and reconstruction
            pressure collapsed the encoders' outputs to near-constants and the fusion to chance; docs/results.md §13).

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        latent_dim: int = 32,
        hidden_dims: Sequence[int] = (64,),
        beta: float = 0.1,
        sample: bool = True,
        shield_encoders: bool = True,
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.latent_dim, self.beta, self.sample = embed_dim, latent_dim, beta, sample
        self.shield_encoders = shield_encoders
        hidden = tuple(hidden_dims)
        self.experts = nn.ModuleDict({m: MLP(d, hidden, 2 * latent_dim) for m, d in self.in_dims.items()})
        self.decoders = nn.ModuleDict({m: MLP(latent_dim, hidden[::-1], d) for m, d in self.in_dims.items()})
        self.head = MLP(latent_dim, (embed_dim,), embed_dim)

    def posterior(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Joint posterior ``(mu (B, L), logvar (B, L), present (B, M))`` over the present modalities."""
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch = present.shape[0]
        dtype = next(iter(clean.values())).dtype
        mus, logvars = [], []
        for m in self.in_dims:
            if m in clean:
                mu, logvar = self.experts[m](clean[m]).chunk(2, dim=1)  # 2 x (B, L)
            else:
                mu = logvar = torch.zeros(batch, self.latent_dim, dtype=dtype, device=present.device)
            mus.append(mu)
            logvars.append(logvar.clamp(-8.0, 8.0))
        joint_mu, joint_logvar = product_of_experts(torch.stack(mus, 1), torch.stack(logvars, 1), present)
        return joint_mu, joint_logvar, present

    def forward_with_aux(
        self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Fused embedding and the auxiliary ELBO terms of each row.

        Returns:
            ``(out (B, embed_dim), aux)`` with ``aux["recon"] (B,)``: mean squared reconstruction error of the
            present modalities' (detached) features, summed over modalities; ``aux["kl"] (B,)``:
            ``KL(q(z | present) || N(0, I))``; ``aux["loss"] (B,)``: ``recon + beta * kl`` (per row, so a DP
            per-sample objective can add it; average it for an ordinary loss).
        """
        mu, logvar, present = self.posterior(features, mask)
        z = self._latent(mu, logvar)  # (B, L)
        if self.shield_encoders:  # the ELBO's own posterior over detached features: it never reaches the encoders
            mu, logvar, _ = self.posterior({m: f.detach() for m, f in features.items()}, mask)
            z_aux = self._latent(mu, logvar)
        else:
            z_aux = z
        recon = mu.new_zeros(mu.shape[0])
        for i, m in enumerate(self.in_dims):
            if m not in features:
                continue
            target = torch.where(present[:, i : i + 1], features[m], torch.zeros_like(features[m])).detach()
            err = (self.decoders[m](z_aux) - target).square().mean(dim=1)  # (B,)
            recon = recon + torch.where(present[:, i], err, torch.zeros_like(err))
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=1)  # (B,)
        return self.head(z), {"recon": recon, "kl": kl, "loss": recon + self.beta * kl}

    def _latent(self, mu: Tensor, logvar: Tensor) -> Tensor:
        if self.training and self.sample:
            return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # (B, L) reparameterised sample
        return mu

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        mu, logvar, _ = self.posterior(features, mask)
        return self.head(self._latent(mu, logvar))  # (B, L) -> (B, E)


@register_fusion
def subspace(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> SubspaceFusion:
    """Multimodal-VAE latent with a product of experts over present modalities (see :class:`SubspaceFusion`)."""
    return SubspaceFusion(check_in_dims(in_dims), embed_dim, **kwargs)
