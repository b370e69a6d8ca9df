"""torchsetup: set up and prove a PyTorch 2.x environment.

torchsetup never imports torch in its own process: everything it learns about an installed
torch comes from files, or from a subprocess running the target interpreter.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
