"""Self-supervised multimodal pretraining: contrastive (InfoNCE/CLIP) and masked-modality objectives over the
record's modalities, the pretraining LightningModule, ``pretrained_encoders.pt`` and fine-tuning from it.

``python train.py +experiment=pretrain_ecg_image`` → ``run_pretraining(cfg)``; fine-tune with
``model.init_from=<pretrained_encoders.pt | .ckpt | bundle dir> model.finetune=full|frozen|linear_probe``.
See docs/pretraining.md.
"""

from nextgen_ml.pretraining.artifact import ENCODERS_FILE, FORMAT, read_pretrained
from nextgen_ml.pretraining.contrastive import contrastive_loss, info_nce
from nextgen_ml.pretraining.masked import masked_modality_loss
from nextgen_ml.pretraining.module import PretrainModule
from nextgen_ml.pretraining.net import PretrainNet
from nextgen_ml.pretraining.objectives import PretrainObjective, create_objective, register_objective
from nextgen_ml.pretraining.run import run_pretraining

__all__ = [
    "ENCODERS_FILE",
    "FORMAT",
    "PretrainModule",
    "PretrainNet",
    "PretrainObjective",
    "contrastive_loss",
    "create_objective",
    "info_nce",
    "masked_modality_loss",
    "read_pretrained",
    "register_objective",
    "run_pretraining",
]
