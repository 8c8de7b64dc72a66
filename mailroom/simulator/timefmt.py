"""Fast, vectorized time helpers: seasonal sampling and ISO-8601 formatting.

Times are ``int64`` seconds since the Unix epoch (UTC) throughout the simulator.
Formatting millions of timestamps with ``strftime`` is slow, so :func:`iso_utc`
writes the fixed-width ``YYYY-MM-DDTHH:MM:SSZ`` text directly into an Arrow buffer.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

DAY = 86_400
HOUR = 3_600

# Relative order/visit intensity per calendar month (Jan sale, spring, Nov/Dec peak).
MONTH_WEIGHTS = np.array(
    [1.25, 0.8, 1.0, 1.1, 1.1, 0.9, 0.85, 0.85, 0.95, 1.0, 1.55, 1.8]
)
# Monday .. Sunday: online shopping peaks on Sunday evening and Monday.
WEEKDAY_WEIGHTS = np.array([1.15, 1.0, 0.95, 0.95, 0.9, 0.85, 1.2])
# Hour-of-day profile (UTC), evening peak.
HOUR_WEIGHTS = np.array(
    [
        *(0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.05),
        *(1.1, 1.1, 1.0, 1.0, 1.05, 1.15, 1.3, 1.5, 1.6, 1.5, 1.1, 0.6),
    ]
)
BLACK_FRIDAY_BOOST = 3.0


def epoch_seconds(day: date) -> int:
    """Seconds since the Unix epoch at midnight UTC of ``day``."""
    return (day - date(1970, 1, 1)).days * DAY


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert days since 1970-01-01 to (year, month, day) arrays (proleptic)."""
    z = days.astype(np.int64) + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = y + (m <= 2)
    return y, m, d


class Season:
    """Seasonal day weights over the history window, used to sample event times.

    Parameters
    ----------
    start : int
        First second of the window (midnight UTC).
    days : int
        Length of the window in days.
    """

    def __init__(self, start: int, days: int) -> None:
        self.start = start
        self.days = days
        day_index = np.arange(days, dtype=np.int64) + start // DAY
        _, month, dom = civil_from_days(day_index)
        weekday = (day_index + 3) % 7  # 1970-01-01 was a Thursday (index 3)
        weights = MONTH_WEIGHTS[month - 1] * WEEKDAY_WEIGHTS[weekday]
        # Black Friday (4th Friday of November) and the following Cyber Monday.
        is_bf = (month == 11) & (weekday == 4) & (dom >= 22) & (dom <= 28)
        is_cm = (month == 11) & (weekday == 0) & (dom >= 25)
        is_cm |= (month == 12) & (weekday == 0) & (dom <= 4)
        weights = np.where(is_bf | is_cm, weights * BLACK_FRIDAY_BOOST, weights)
        self.cdf = np.concatenate([[0.0], np.cumsum(weights)])
        self.edges = np.arange(days + 1, dtype=np.float64)
        self.hour_cdf = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()

    def sample(
        self, rng: np.random.Generator, low: np.ndarray, high: np.ndarray
    ) -> np.ndarray:
        """Sample one time in ``[low, high)`` per element, following the season.

        The day follows the seasonal weights, the hour the daily profile; results
        are clipped into ``[low, high - 1]``.
        """
        low = np.asarray(low, dtype=np.int64)
        high = np.maximum(np.asarray(high, dtype=np.int64), low + 1)
        pos_lo = (low - self.start) / DAY
        pos_hi = (high - self.start) / DAY
        c_lo = np.interp(pos_lo, self.edges, self.cdf)
        c_hi = np.interp(pos_hi, self.edges, self.cdf)
        u = c_lo + rng.random(low.shape[0]) * (c_hi - c_lo)
        day = np.floor(np.interp(u, self.cdf, self.edges)).astype(np.int64)
        hour = np.searchsorted(self.hour_cdf, rng.random(low.shape[0]))
        sec = rng.integers(0, HOUR, low.shape[0])
        t = self.start + day * DAY + hour * HOUR + sec
        return np.clip(t, low, high - 1)


def month_of(seconds: np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of each time."""
    return civil_from_days(np.floor_divide(seconds, DAY))[1]


def _digit_table(
    values: np.ndarray, widths: tuple[int, ...], seps: bytes
) -> np.ndarray:
    """Fixed-width ASCII rows for small tables of integer tuples (one row each)."""
    total = sum(widths) + len(seps)
    out = np.empty((values.shape[0], total), dtype=np.uint8)
    col = 0
    for k, width in enumerate(widths):
        v = values[:, k].copy()
        for j in range(width - 1, -1, -1):
            out[:, col + j] = 48 + v % 10
            v //= 10
        col += width
        if k < len(seps):
            out[:, col] = seps[k]
            col += 1
    return out


_SECONDS = np.arange(DAY, dtype=np.int64)
_TIME_TABLE = _digit_table(
    np.stack([_SECONDS // HOUR, (_SECONDS // 60) % 60, _SECONDS % 60], axis=1),
    (2, 2, 2),
    b"::",
)


def _date_table(days: np.ndarray) -> np.ndarray:
    y, m, d = civil_from_days(days)
    return _digit_table(np.stack([y, m, d], axis=1), (4, 2, 2), b"--")


def iso_utc(seconds: np.ndarray) -> pa.StringArray:
    """Format epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ`` strings (Arrow array)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    n = seconds.shape[0]
    days = np.floor_divide(seconds, DAY)
    rem = seconds - days * DAY
    buf = np.empty((n, 20), dtype=np.uint8)
    if n:
        first = int(days.min())
        span = int(days.max()) - first + 1
        if span <= 200_000:
            table = _date_table(np.arange(first, first + span, dtype=np.int64))
            buf[:, :10] = table[days - first]
        else:
            uniq, inverse = np.unique(days, return_inverse=True)
            buf[:, :10] = _date_table(uniq)[inverse]
        buf[:, 11:19] = _TIME_TABLE[rem]
    buf[:, 10] = ord("T")
    buf[:, 19] = ord("Z")
    offsets = np.arange(0, 20 * (n + 1), 20, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buf))
    )


def iso_date(days: np.ndarray) -> pa.StringArray:
    """Format days since the epoch as ``YYYY-MM-DD`` strings (Arrow array)."""
    full = iso_utc(np.asarray(days, dtype=np.int64) * DAY)
    import pyarrow.compute as pc

    return pc.utf8_slice_codeunits(full, 0, 10)
