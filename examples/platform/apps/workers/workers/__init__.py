"""Background jobs of the sample platform."""
