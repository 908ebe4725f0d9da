"""The headless front end over the same engine and instance (no Qt import)."""
