"""Python client tools for provindex."""
