"""Small values every handler uses."""

from __future__ import annotations

from datetime import timedelta

# kio types throttle_time_ms as a timedelta; we never throttle (quotas are not implemented).
NO_THROTTLE = timedelta(0)
