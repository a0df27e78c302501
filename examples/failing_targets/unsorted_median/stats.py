"""Descriptive statistics."""


def median(values):
    if not values:
        raise ValueError("median of an empty list")
    n = len(values)
    mid = n // 2
    if n % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2
