"""Decoder training: config, data, losses, loop, checkpoints, reporting."""

from adain.errors import TrainingDiverged
from adain.train.config import TrainConfig
from adain.train.trainer import Trainer, train

__all__ = ["TrainConfig", "Trainer", "TrainingDiverged", "train"]
