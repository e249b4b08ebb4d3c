"""Clinical variables: ``tabular`` column, declared by the store's data dictionary, ``(P,)`` input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nextgen_ml.modalities import register_modality
from nextgen_ml.modalities.spec import ModalitySpec

#: placeholder type: the record schema builds ``tabular`` from the data dictionary (one field per variable)
ARROW_TYPE = pa.struct([])


def example(rng: np.random.Generator) -> dict[str, Any]:
    return {"age": float(rng.integers(40, 80)), "sex": "male", "bmi": 27.5, "sbp": 132.0, "ldl": 3.1,
            "hba1c": 5.6, "smoking": "former", "diabetes": "no", "statin": "yes", "beta_blocker": "no",
            "ace_inhibitor": "no", "anticoagulant": "no"}


def context(store: Any) -> dict[str, Any]:
    """The transform reads the variables the store's data dictionary declares (no store: the synthetic one)."""
    if store is None:
        from nextgen_ml.data.catalogue import SYNTHETIC_DICTIONARY

        return {"dictionary": SYNTHETIC_DICTIONARY}
    return {"dictionary": store.dictionary}


SPEC = register_modality(ModalitySpec(
    name="tabular", column="tabular", arrow_type=ARROW_TYPE, transform="nextgen_ml.data.transforms:TabularTransform",
    default_encoder="tabular_ft_transformer", validate="nextgen_ml.data.validate:check_tabular", example=example,
    transform_context=context, ingest_formats=("fhir",), description="declared clinical variables (data dictionary)",
    input_shape="(P,) float32", module=__name__,
))  # fmt: skip
