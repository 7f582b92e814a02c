"""adain: fast arbitrary style transfer with Adaptive Instance Normalization."""

__version__ = "0.1.0"
