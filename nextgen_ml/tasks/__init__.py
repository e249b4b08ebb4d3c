"""Task definitions (losses, torchmetrics) and the thin LightningModule."""

from nextgen_ml.tasks.losses import cox_ph_loss
from nextgen_ml.tasks.metrics import ConcordanceIndex, concordance_index
from nextgen_ml.tasks.module import MultimodalModule
from nextgen_ml.tasks.tasks import (
    TASKS,
    BinaryTask,
    MulticlassTask,
    MultilabelTask,
    RegressionTask,
    SurvivalTask,
    create_task,
)

__all__ = [
    "TASKS",
    "BinaryTask",
    "ConcordanceIndex",
    "MulticlassTask",
    "MultilabelTask",
    "MultimodalModule",
    "RegressionTask",
    "SurvivalTask",
    "concordance_index",
    "cox_ph_loss",
    "create_task",
]
