"""The networks of the neural baselines (architecture only; training lives in baselines.training)."""

from baselines.nets.di2in import DI2IN
from baselines.nets.discriminator import Discriminator
from baselines.nets.dou import DouDSN

__all__ = ["DI2IN", "Discriminator", "DouDSN"]
