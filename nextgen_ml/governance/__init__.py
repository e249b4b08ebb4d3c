"""Governance built into the data flow: DUO consent matching, consent filtering, audit, cohort discovery.

The HTTP app (:mod:`nextgen_ml.governance.server`) is not imported here, so FastAPI stays optional.
"""

from nextgen_ml.governance.anchor import Anchor
from nextgen_ml.governance.audit import AuditChainError, AuditLog, AuditTornError, config_hash, dataset_identity
from nextgen_ml.governance.budget import PrivacyBudget, QueryBudgetExceeded
from nextgen_ml.governance.consent_filter import ConsentError, ConsentReport, filter_store
from nextgen_ml.governance.discovery import Catalog, CohortQuery, FederatedAnswer, SiteAnswer, discover
from nextgen_ml.governance.duo import DUO_VERSION, TERMS, ConsentCodes, Decision, ResearchPurpose, permits
from nextgen_ml.governance.mondo import cardio_subtree, is_descendant
from nextgen_ml.governance.policy import SitePolicy, load_policy

__all__ = [
    "DUO_VERSION",
    "TERMS",
    "Anchor",
    "AuditChainError",
    "AuditLog",
    "AuditTornError",
    "Catalog",
    "CohortQuery",
    "ConsentCodes",
    "ConsentError",
    "ConsentReport",
    "Decision",
    "FederatedAnswer",
    "PrivacyBudget",
    "QueryBudgetExceeded",
    "ResearchPurpose",
    "SiteAnswer",
    "SitePolicy",
    "cardio_subtree",
    "config_hash",
    "dataset_identity",
    "discover",
    "filter_store",
    "is_descendant",
    "load_policy",
    "permits",
]
