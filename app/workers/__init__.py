"""Qt adapters (QtCore only) that run engine and instance calls off the GUI thread."""
