"""Qt widgets, pages and item models: the only package that touches widgets."""
