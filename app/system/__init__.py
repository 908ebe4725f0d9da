"""Where the station keeps things on this computer: data folder and OS keyring. No Qt."""
