"""Helpers for the tests and benchmarks only (stand-in weights). The served app never imports this package
(tests/test_app.py checks), so no request can switch the app into them."""
