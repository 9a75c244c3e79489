"""The breaker on a clock the test turns: when batches go to Triton, when to the provider."""

from services.common.inference.breaker import Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_the_failures_in_a_row_and_a_success_closes_it() -> None:
    breaker = Breaker(failures=3, probe_s=10.0, clock=Clock())
    assert breaker.try_triton()
    assert not breaker.failed()
    assert not breaker.failed()
    assert not breaker.open
    assert breaker.failed(), "the third failure in a row opens it"
    assert breaker.open
    assert breaker.succeeded(), "a success closes it"
    assert not breaker.open
    assert not breaker.failed(), "the count starts again"


def test_a_success_between_failures_starts_the_count_again() -> None:
    breaker = Breaker(failures=2, probe_s=10.0, clock=Clock())
    breaker.failed()
    assert not breaker.succeeded(), "it was closed"
    breaker.failed()
    assert not breaker.open


def test_while_open_one_batch_per_probe_period_tries_triton() -> None:
    clock = Clock()
    breaker = Breaker(failures=1, probe_s=10.0, clock=clock)
    breaker.failed()
    assert not breaker.try_triton(), "just opened: the provider classifies"
    clock.now += 9.9
    assert not breaker.try_triton()
    clock.now += 0.2
    assert breaker.try_triton(), "the probe"
    assert not breaker.try_triton(), "only one batch per period"
    breaker.failed()  # the probe failed: still open
    assert breaker.open
    clock.now += 10.1
    assert breaker.try_triton()
