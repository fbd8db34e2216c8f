"""iastp_tf: Interaction-Aware Spatio-Temporal Pyramid Attention Networks.

Packages, by concern (imports run one way, left to right):
  layers -> backbones -> models -> training / evaluation
  data depends on none of the model code; analysis reads scores and models.
"""

__version__ = "0.1.0"
