"""What regenerates assets/: run each from the repository root as ``python -m scripts.NAME``."""
