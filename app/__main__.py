"""`python -m app ...` is the same program as the `ql-station` console script."""

from app.entry import main

raise SystemExit(main())
