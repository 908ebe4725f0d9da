"""Plain data types and validation shared by every layer. No Qt, no I/O."""
