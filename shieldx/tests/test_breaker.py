"""The circuit breaker's states, with a clock the test controls."""

from __future__ import annotations

import pytest

from shieldx.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Outage(Exception):
    pass


class BusinessError(Exception):
    pass


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock):
    return CircuitBreaker("test", fail_max=3, reset_timeout=5, half_open_max_calls=2, is_failure=lambda e: isinstance(e, Outage), clock=clock)


def fail(breaker, exc=Outage):
    with pytest.raises(exc), breaker.guard():
        raise exc()


def test_consecutive_failures_open_it_and_calls_are_then_refused_without_trying(breaker):
    fail(breaker)
    fail(breaker)
    assert breaker.state == CLOSED
    fail(breaker)
    assert breaker.state == OPEN
    tried = []
    with pytest.raises(CircuitOpen) as refused, breaker.guard():
        tried.append(1)
    assert tried == [] and refused.value.retry_after >= 1


def test_a_success_resets_the_failure_count(breaker):
    fail(breaker)
    fail(breaker)
    with breaker.guard():
        pass
    fail(breaker)
    assert breaker.state == CLOSED


def test_business_errors_never_count_as_failures(breaker):
    for _ in range(10):
        fail(breaker, BusinessError)
    assert breaker.state == CLOSED


def test_half_open_admits_a_bounded_number_of_probes_then_closes_on_success(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.now += 5
    assert breaker.state == HALF_OPEN
    breaker.before_call()
    breaker.before_call()
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # a third concurrent probe is refused
    breaker.success()
    assert breaker.state == CLOSED


def test_a_failed_probe_opens_it_again_for_another_timeout(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.now += 5
    fail(breaker)
    assert breaker.state == OPEN
    clock.now += 4.9
    assert breaker.state == OPEN
    clock.now += 0.1
    assert breaker.state == HALF_OPEN


def test_state_changes_are_exported_as_metrics(breaker, clock):
    from prometheus_client import REGISTRY

    for _ in range(3):
        fail(breaker)
    assert REGISTRY.get_sample_value("credits_circuit_breaker_state", {"breaker": "test"}) == 2
    assert REGISTRY.get_sample_value("credits_circuit_breaker_transitions_total", {"breaker": "test", "to": "open"}) >= 1
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    assert REGISTRY.get_sample_value("credits_circuit_breaker_rejected_calls_total", {"breaker": "test"}) >= 1


def test_a_failure_left_by_one_test_is_gone_after_reset(breaker):
    for _ in range(3):
        fail(breaker)
    assert breaker.state == OPEN
    breaker.reset()
    assert breaker.state == CLOSED
    fail(breaker)
    fail(breaker)
    assert breaker.state == CLOSED
