"""Project-wide test settings. Fixtures of one service live in that service's conftest."""

from hypothesis import HealthCheck, settings

# Property tests run at least 100 examples each (design.md's testing strategy); no deadline,
# because CI shares 2 cores with real service processes.
settings.register_profile(
    "dne", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("dne")
