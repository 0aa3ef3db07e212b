"""transnar: Transformers that cross-attend to a frozen Neural Algorithmic Reasoner.

Subpackages:
    clrs: the CLRS-30 data layer in pure NumPy (specs, algorithms with hints,
        samplers, batching); importing it does not import PyTorch.
"""

__version__ = "0.1.0"
