"""Serial-port discovery, hotplug and board identification. No Qt."""
