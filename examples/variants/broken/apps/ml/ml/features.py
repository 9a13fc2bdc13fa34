"""Feature engineering that nobody tested yet (coverage falls under the gate)."""


def price_per_m2(price: float, area_m2: float) -> float:
    if area_m2 <= 0:
        raise ValueError("area must be positive")
    return price / area_m2


def bucket(area_m2: float) -> str:
    if area_m2 < 40:
        return "studio"
    if area_m2 < 70:
        return "small"
    if area_m2 < 110:
        return "medium"
    if area_m2 < 160:
        return "large"
    return "villa"


def normalise(values: list[float]) -> list[float]:
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def rooms_label(rooms: int) -> str:
    if rooms <= 0:
        return "none"
    if rooms == 1:
        return "single"
    if rooms <= 3:
        return "family"
    return "large family"


def outliers(values: list[float], factor: float = 1.5) -> list[float]:
    ordered = sorted(values)
    if len(ordered) < 4:
        return []
    q1 = ordered[len(ordered) // 4]
    q3 = ordered[(3 * len(ordered)) // 4]
    spread = q3 - q1
    return [v for v in values if v < q1 - factor * spread or v > q3 + factor * spread]
