"""Least-squares price model on floor area and rooms, in pure Python so it runs anywhere."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    intercept: float
    per_m2: float
    per_room: float

    def predict(self, area_m2: float, rooms: int) -> float:
        return self.intercept + self.per_m2 * area_m2 + self.per_room * rooms


def fit(rows: list[tuple[float, int, float]]) -> Model:
    """Fit price = a + b*area + c*rooms by solving the 3x3 normal equations."""
    if len(rows) < 3:
        raise ValueError("need at least three listings to fit a model")
    xs = [(1.0, float(area), float(rooms)) for area, rooms, _ in rows]
    ys = [price for _, _, price in rows]
    xtx = [[sum(x[i] * x[j] for x in xs) for j in range(3)] for i in range(3)]
    xty = [sum(x[i] * y for x, y in zip(xs, ys, strict=True)) for i in range(3)]
    a, b, c = _solve(xtx, xty)
    return Model(intercept=a, per_m2=b, per_room=c)


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting."""
    n = len(rhs)
    aug = [row[:] + [value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(aug[r][col]))
        if abs(aug[pivot][col]) < 1e-12:
            raise ValueError("listings do not determine the model (collinear data)")
        aug[col], aug[pivot] = aug[pivot], aug[col]
        for row in range(n):
            if row != col:
                factor = aug[row][col] / aug[col][col]
                aug[row] = [v - factor * p for v, p in zip(aug[row], aug[col], strict=True)]
    return [aug[i][n] / aug[i][i] for i in range(n)]
