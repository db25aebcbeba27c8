"""What the tests and the benchmark share to drive the app: not part of the library, not shipped.

``harness.browser`` starts Streamlit on a free port and a headless Chromium; it raises ordinary
exceptions, which ``tests/browser_support.py`` turns into pytest's skip or fail.
"""
