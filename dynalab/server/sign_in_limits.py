"""Failed web sign-ins, counted per client address and per email, to stop password guessing.

Past ``per_email`` failures for one email, or ``per_address`` from one
address, within ``window`` seconds, sign-ins for it are refused (even with
the right password) until the oldest failure leaves the window. Kept in
memory: a restart forgets them, which costs a guesser no more than a window.
At most ``max_keys`` addresses and emails are tracked; the least recently
failed are forgotten first, so a flood of made-up emails cannot grow it.
"""

import time
from collections import OrderedDict, deque

PER_EMAIL = 5
PER_ADDRESS = 20
WINDOW = 15 * 60
MAX_KEYS = 10_000


class FailedSignIns:
    def __init__(self, per_email=PER_EMAIL, per_address=PER_ADDRESS, window=WINDOW, max_keys=MAX_KEYS,
                 clock=time.monotonic):
        self.limits = {"email": per_email, "address": per_address}
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._failures = OrderedDict()  # (kind, value) -> deque of failure times

    def wait(self, address, email):
        """Seconds until a sign-in for ``email`` from ``address`` is allowed again; 0 if it is now."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(address, email):
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limits[key[0]]:
                wait = max(wait, times[-self.limits[key[0]]] + self.window - now)
        return wait

    def failed(self, address, email):
        now = self.clock()
        for key in self._keys(address, email):
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=max(self.limits.values()))
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, email):
        """A right password: that email's failures are forgiven (the address's are not)."""
        self._failures.pop(("email", _email(email)), None)

    def _keys(self, address, email):
        return [("address", address or "unknown"), ("email", _email(email))]

    def _recent(self, key, now):
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times


def _email(email):
    return email.strip().lower()
