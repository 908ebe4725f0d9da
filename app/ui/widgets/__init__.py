"""Small widgets shared by several pages: headers, panels, record tables, dialog frame, error banner."""
