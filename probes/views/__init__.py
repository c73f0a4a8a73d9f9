"""Views of a ``bootlab.run/1`` result: pure functions of the loaded JSON dict."""
