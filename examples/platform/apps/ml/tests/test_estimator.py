import pytest

from ml.estimator import fit


def test_recovers_exact_linear_prices() -> None:
    listings = [(50.0, 2), (80.0, 3), (120.0, 5), (65.0, 2)]
    rows = [(area, rooms, 60_000.0 + 3_000 * area + 10_000 * rooms) for area, rooms in listings]
    model = fit(rows)
    assert model.predict(100.0, 4) == pytest.approx(60_000 + 300_000 + 40_000)


def test_too_few_rows() -> None:
    with pytest.raises(ValueError, match="at least three"):
        fit([(50.0, 2, 1.0)])


def test_collinear_rows() -> None:
    with pytest.raises(ValueError, match="collinear"):
        fit([(10.0, 1, 1.0), (20.0, 2, 2.0), (30.0, 3, 3.0)])
