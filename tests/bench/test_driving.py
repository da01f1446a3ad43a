"""What one driven run measured, in the benchmark's units (``factmem_bench.driving``)."""

from __future__ import annotations

from factmem_bench.driving import health_latency
from factmem_bench.memory_trend import HealthSample


def test_health_latency_leaves_out_the_idle_first_and_last_samples() -> None:
    def sample(index: int, latency: float, answered: bool = True) -> HealthSample:
        if not answered:
            return HealthSample(index, 0.0, None, None, None, "unreachable", latency)
        return HealthSample(index, 0.0, 100.0, 50.0, 120.0, "healthy", latency)

    samples = [sample(0, 1.0), sample(25, 2.0), sample(50, 3.0, False), sample(75, 4.0), sample(100, 5.0)]
    assert health_latency(samples, planned=100) == [2.0, 4.0]
