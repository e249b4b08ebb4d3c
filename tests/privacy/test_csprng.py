"""The secure generator of the DP noise and sampling: ChaCha20 keystream → Gaussian / Bernoulli draws."""

from __future__ import annotations

import json
import math
import stat

import pytest
import torch
from scipy import stats
from torch import nn

from nextgen_ml.privacy.config import DPConfig
from nextgen_ml.privacy.csprng import NOISE, SAMPLING, SecureGenerator, key_id
from nextgen_ml.privacy.engine import make_private_parts
from nextgen_ml.privacy.loader import SecurePoissonSampler
from nextgen_ml.privacy.noise_key import find_key, key_file_name, read_key_file, write_key_file
from nextgen_ml.privacy.randomness import DPRandomness

#: a fixed key so the statistical checks are deterministic (a draw that passes passes every time)
KEY = bytes(range(32))
N = 200_000


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_gaussian_has_mean_zero_the_asked_std_and_passes_a_ks_test(dtype):
    draws = SecureGenerator(KEY).stream(NOISE, 7).normal((N,), 2.5, dtype=dtype)
    assert draws.dtype == dtype and draws.shape == (N,)
    x = draws.double() / 2.5
    assert abs(float(x.mean())) < 5 / math.sqrt(N)  # 5 standard errors
    assert float(x.var()) == pytest.approx(1.0, abs=5 * math.sqrt(2 / N))
    assert stats.kstest(x.numpy(), "norm").pvalue > 1e-3
    assert abs(float(stats.skew(x.numpy()))) < 0.03 and abs(float(stats.kurtosis(x.numpy()))) < 0.06


def test_streams_are_positional_and_the_key_decides_them():
    gen = SecureGenerator(KEY)
    a = gen.stream(NOISE, 3).normal((1000,), 1.0)
    assert torch.equal(a, gen.stream(NOISE, 3).normal((1000,), 1.0))  # same (key, step): same noise
    assert not torch.equal(a, gen.stream(NOISE, 4).normal((1000,), 1.0))  # next step: new noise
    assert not torch.equal(a, SecureGenerator().stream(NOISE, 3).normal((1000,), 1.0))  # another key
    assert not torch.equal(gen.stream(NOISE, 3).words(16), gen.stream(SAMPLING, 3).words(16))  # domains apart
    stream = gen.stream(NOISE, 3)
    first, second = stream.words(4), stream.words(4)  # a stream reads on, it does not repeat
    assert torch.equal(torch.cat((first, second)), gen.stream(NOISE, 3).words(8))
    assert "key_id" in repr(gen) and KEY.hex() not in repr(gen)


def test_poisson_masks_have_rate_q_and_the_sampler_never_touches_torchs_generator():
    gen = SecureGenerator(KEY)
    rate = float(torch.stack([gen.poisson_mask(b, 10_000, 0.05) for b in range(20)]).float().mean())
    assert rate == pytest.approx(0.05, abs=5 * math.sqrt(0.05 * 0.95 / 200_000))
    state = torch.get_rng_state()
    sampler = SecurePoissonSampler(500, 0.1, DPRandomness(key=KEY))
    epoch0, epoch1 = list(sampler), list(sampler)
    assert len(epoch0) == 10 and epoch0 != epoch1  # the next epoch continues at batch 10
    assert torch.equal(state, torch.get_rng_state())
    again = SecurePoissonSampler(500, 0.1, DPRandomness(key=KEY), position=lambda: (10, 10))
    assert list(again) == epoch1  # positional: batch b is the same draw whoever asks


def test_the_noise_std_is_sigma_times_c_on_a_zero_gradient_step():
    net = nn.Linear(500, 200)  # 100,200 parameters, every per-sample gradient 0
    sigma, clip, expected = 1.3, 0.7, 4.0
    config = DPConfig(max_grad_norm=clip)
    hooks, opt = make_private_parts(net, torch.optim.SGD(net.parameters(), lr=0.0), config, sigma, expected,
                                    randomness=DPRandomness(key=KEY), first_step=5)
    state = torch.get_rng_state()
    for p in net.parameters():
        p.grad_sample = torch.zeros((3, *p.shape))
    opt.step()
    noise = torch.cat([p.grad.flatten() for p in net.parameters()]).double() * expected  # undo the 1/(qN)
    assert float(noise.std()) == pytest.approx(sigma * clip, rel=0.01)
    assert abs(float(noise.mean())) < 5 * sigma * clip / math.sqrt(noise.numel())
    assert torch.equal(state, torch.get_rng_state())  # not a draw from torch's generator
    assert opt.noise_step == 6
    expected_noise = DPRandomness(key=KEY).noise(5)  # step 5's stream, parameters in order
    first = expected_noise.normal(net.weight.shape, sigma * clip)
    assert torch.equal(net.weight.grad * expected, first)
    hooks.cleanup()


def test_the_debug_mode_is_a_function_of_the_seed_and_refuses_a_key():
    a, b = DPRandomness(reproducible=True, seed=3), DPRandomness(reproducible=True, seed=3)
    assert a.key_id == b.key_id != DPRandomness(reproducible=True, seed=4).key_id
    assert torch.equal(a.noise(0).normal((8,), 1.0), b.noise(0).normal((8,), 1.0))
    assert DPRandomness().key_id != DPRandomness().key_id  # secure mode: a fresh key per run
    with pytest.raises(ValueError, match="cannot be given"):
        DPRandomness(reproducible=True, key=KEY)


def test_the_key_file_is_private_never_overwritten_and_checked_against_its_id(tmp_path):
    path = write_key_file(tmp_path, KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.name == key_file_name(key_id(KEY))
    assert write_key_file(tmp_path, KEY) == path and read_key_file(path) == KEY  # same key: kept as it is
    assert find_key(key_id(KEY), [None, tmp_path / "elsewhere", tmp_path]) == (KEY, path)
    assert find_key(key_id(bytes(32)), [tmp_path]) is None
    edited = json.loads(path.read_text())
    edited["key"] = bytes(32).hex()
    path.write_text(json.dumps(edited))
    with pytest.raises(ValueError, match=rf"{path.name}: the key does not match its key_id"):
        read_key_file(path)
    with pytest.raises(ValueError, match=r"holds another DP noise key \(or a damaged one\); it is not overwritten"):
        write_key_file(tmp_path, KEY)
