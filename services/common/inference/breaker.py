"""The circuit breaker around Triton, used by the fallback classifier when an LLM provider is configured.

Closed: every batch goes to Triton. ``failures`` Triton outages in a row open it: batches go to the provider,
and every ``probe_s`` one batch tries Triton again; its success closes the breaker.
"""

import time
from collections.abc import Callable


class Breaker:
    def __init__(self, failures: int, probe_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.probe_s = probe_s
        self.clock = clock
        self.failed_in_a_row = 0
        self.next_probe = 0.0

    @property
    def open(self) -> bool:
        return self.failed_in_a_row >= self.failures

    def try_triton(self) -> bool:
        """Whether this batch goes to Triton: always while closed; while open, one batch per ``probe_s``."""
        if not self.open:
            return True
        now = self.clock()
        if now < self.next_probe:
            return False
        self.next_probe = now + self.probe_s
        return True

    def succeeded(self) -> bool:
        """Triton answered; returns True if that closed the breaker."""
        was_open = self.open
        self.failed_in_a_row = 0
        return was_open

    def failed(self) -> bool:
        """Triton did not answer; returns True if that opened the breaker."""
        was_open = self.open
        self.failed_in_a_row += 1
        if self.open and not was_open:
            self.next_probe = self.clock() + self.probe_s
            return True
        return False
