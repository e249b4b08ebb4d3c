"""Realistic synthetic cardiology cohort: a latent cardiac state per patient rendered into every modality.

See ``docs/cohort.md`` for the generative model and its clinical grounding.
"""

from nextgen_ml.data.cohort.config import Cohort, CohortConfig
from nextgen_ml.data.cohort.generate import BLOCK_SIZE, generate_block, generate_cohort, write_cohort
from nextgen_ml.data.cohort.genotype import build_panel
from nextgen_ml.data.cohort.sites import SiteProfile, site_profiles

__all__ = [
    "BLOCK_SIZE",
    "Cohort",
    "CohortConfig",
    "SiteProfile",
    "build_panel",
    "generate_block",
    "generate_cohort",
    "site_profiles",
    "write_cohort",
]
