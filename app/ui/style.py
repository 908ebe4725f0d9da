"""The station's style sheet: calm neutrals, one accent, large readable numbers."""

STYLE_SHEET = """
QListWidget#navigation {
    background: #1f2a36; color: #e8eef4; border: none; font-size: 14px; padding-top: 8px;
}
QListWidget#navigation::item { padding: 10px 16px; }
QListWidget#navigation::item:selected { background: #2f6fb2; color: white; }
QLabel#pageTitle { font-size: 22px; font-weight: 600; padding: 6px 0; }
QLabel#sectionTitle { font-size: 15px; font-weight: 600; padding-top: 10px; }
QFrame#panel { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; }
QLabel#panelTitle { color: #57606a; font-size: 12px; }
QLabel#panelValue { font-size: 24px; font-weight: 600; }
QLabel#problem { color: #c62828; }
"""
