"""Embodied worlds: BabyAI grid worlds with their expert, and an adapter for any discrete Gymnasium env."""

from .babyai import FAMILIES, BabyAIEnv
from .adapter import DiscreteGymEnv

__all__ = ["FAMILIES", "BabyAIEnv", "DiscreteGymEnv"]
