"""Command-line tools: the top layer, talking to the controller only over HTTP."""
