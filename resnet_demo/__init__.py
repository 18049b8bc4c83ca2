"""ResNet Lab: the core library behind the app (no gradio imports here; docs/architecture.md)."""
