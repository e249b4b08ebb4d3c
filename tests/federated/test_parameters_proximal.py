"""Model updates (parameter round trip) and the FedProx proximal step."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch import nn

from nextgen_ml.federated import ProximalStep, get_parameters, parameter_keys, set_parameters


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_parameters_round_trip_floating_tensors_in_state_dict_order() -> None:
    src, dst = _net(0), _net(1)
    src[1].running_mean.fill_(0.5)  # buffers travel too
    keys = parameter_keys(src)
    assert keys == [k for k in src.state_dict() if "num_batches_tracked" not in k]
    arrays = get_parameters(src)
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in arrays)
    set_parameters(dst, arrays)
    for key in keys:
        torch.testing.assert_close(dst.state_dict()[key], src.state_dict()[key])
    arrays[0] += 1.0  # the arrays are copies, not views of the net
    assert not torch.equal(src.state_dict()[keys[0]], torch.as_tensor(arrays[0]))


def test_set_parameters_refuses_another_architecture_naming_the_key() -> None:
    arrays = get_parameters(_net(0))
    with pytest.raises(ValueError, match="0.weight"):
        set_parameters(_net(0), [np.zeros((3, 3), np.float32), *arrays[1:]])
    with pytest.raises(ValueError, match="arrays"):
        set_parameters(_net(0), arrays[:-1])


class _ZeroGrad(pl.LightningModule):
    """A module whose loss has zero gradient: only the proximal step moves its weights."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((3,), 2.0))

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        return (self.w * 0.0).sum() + batch[0].sum() * 0.0

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):  # noqa: ANN201
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(5, 1)), batch_size=1)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_proximal_step_pulls_weights_toward_the_global_ones(mu: float) -> None:
    module = _ZeroGrad()
    step = ProximalStep(mu)
    trainer = pl.Trainer(max_steps=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[step])

    class _Drift(pl.Callback):  # move the weights away from the anchor once, after the snapshot
        def on_train_start(self, trainer, pl_module):  # noqa: ANN001, ANN201
            with torch.no_grad():
                pl_module.w.add_(1.0)

    trainer.callbacks.append(_Drift())
    trainer.fit(module)
    anchor = step.anchor["w"]
    torch.testing.assert_close(anchor, torch.full((3,), 2.0))
    # w - w_global shrinks by (1 - lr·μ) per optimizer step: 1.0 · (1 - 0.1·μ)^5
    torch.testing.assert_close(module.w.detach() - anchor, torch.full((3,), (1 - 0.1 * mu) ** 5))


def test_proximal_step_refuses_negative_mu() -> None:
    with pytest.raises(ValueError, match="proximal_mu"):
        ProximalStep(-0.1)
