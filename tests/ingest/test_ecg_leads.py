"""Lead naming and the Einthoven/Goldberger derivation of missing limb leads."""

from __future__ import annotations

import numpy as np
import pytest

from nextgen_ml.data.schema import ECG_LEADS
from nextgen_ml.ingest.ecg_leads import standard_lead_name, to_standard_12

from .conftest import einthoven_ecg


@pytest.mark.parametrize(
    ("kwargs", "lead"),
    [
        ({"name": "Lead I (Einthoven)"}, "I"),
        ({"name": "Lead aVF (Goldberger)"}, "aVF"),
        ({"name": "AVL"}, "aVL"),
        ({"name": "v5"}, "V5"),
        ({"code": "5.6.3-9-61", "scheme": "SCPECG"}, "III"),
        ({"code": "2:62", "scheme": "MDC"}, "aVR"),
        ({"code": "MDC_ECG_LEAD_V2", "scheme": "MDC"}, "V2"),
        ({"name": "Respiration"}, None),
        ({"name": "V7"}, None),
    ],
)
def test_standard_lead_names(kwargs, lead):
    assert standard_lead_name(**kwargs) == lead


def test_limb_leads_derived_from_any_two_independent_ones():
    full = einthoven_ecg(200).T  # (12, T)
    keep = ["aVR", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]  # no I, II, III, aVF
    rows = [ECG_LEADS.index(n) for n in keep]
    out, derived = to_standard_12(full[rows][::-1], keep[::-1])
    assert sorted(derived) == sorted(["I", "II", "III", "aVF"])
    np.testing.assert_allclose(out, full, atol=1e-9)


def test_missing_precordial_or_dependent_limbs_fail_naming_the_lead():
    full = einthoven_ecg(50).T
    names = list(ECG_LEADS)
    with pytest.raises(ValueError, match="lead V3"):
        to_standard_12(np.delete(full, 8, axis=0), names[:8] + names[9:])
    only_i = [0, *range(6, 12)]
    with pytest.raises(ValueError, match="two independent limb leads"):
        to_standard_12(full[only_i], [names[i] for i in only_i])
    with pytest.raises(ValueError, match="lead I: appears twice"):
        to_standard_12(np.vstack([full, full[:1]]), names + ["I"])
