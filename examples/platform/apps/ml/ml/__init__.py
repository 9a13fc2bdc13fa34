"""Price estimation for listings."""
