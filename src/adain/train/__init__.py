"""Decoder training: config, data, losses, loop, checkpoints, reporting."""

from adain.train.config import TrainConfig
from adain.train.trainer import Trainer, TrainingDiverged, train

__all__ = ["TrainConfig", "Trainer", "TrainingDiverged", "train"]
