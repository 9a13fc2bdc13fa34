"""The docs stage: an app's real OpenAPI document and a rendered HTML page."""
