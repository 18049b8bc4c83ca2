"""ResNet Lab: the core library behind the app (no gradio imports here)."""
from .threads import flush_denormals

# Before any torch work creates a thread pool: threads created later (OpenMP workers, the server's
# request threads) copy this thread's floating-point settings, so denormals flush everywhere.
flush_denormals()
