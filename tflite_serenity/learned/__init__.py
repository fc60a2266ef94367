"""A learned scheduler (RESPECT): a policy trained by reinforcement learning on synthetic DAGs.

The policy orders a graph's operators one ready operator at a time. For
pipeline segmentation the order is cut into ``k`` segments by the exact
contiguous-cut dynamic program of :mod:`tflite_serenity.edgetpu`
(:func:`tflite_serenity.edgetpu.learned_split`); for memory scheduling the order is a schedule in
itself, and a first upper bound for the exact search (:func:`learned_order`,
``schedule_graph(..., warm_start=...)``). Inference is NumPy only; training
(``scripts/training/train_policy.py``) needs PyTorch. See ``docs/learned.md``.
"""

from .policy import OBJECTIVES, Policy, learned_order, learned_pipeline_order, load_policy

__all__ = ["OBJECTIVES", "Policy", "learned_order", "learned_pipeline_order", "load_policy"]
