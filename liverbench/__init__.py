"""liverbench: train, evaluate and compare 3D CT liver segmentation methods the SLiver07 way."""

from liverbench.volume import Case, Volume
from liverbench.plugin import Context, PostProcessor, Prediction, Resources, Segmenter

__version__ = "0.1.0"
__all__ = ["Case", "Volume", "Context", "PostProcessor", "Prediction", "Resources", "Segmenter"]
