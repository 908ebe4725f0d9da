"""Virtual ESP32-family boards reachable as serial URLs on loopback. No Qt."""
