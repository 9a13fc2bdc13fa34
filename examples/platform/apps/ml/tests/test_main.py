import io
import json

from ml.__main__ import main


def test_main_fits_rows_from_json() -> None:
    out = io.StringIO()
    rows = [[50, 2, 150_000], [80, 3, 240_000], [100, 4, 300_000], [60, 2, 180_000]]
    assert main(io.StringIO(json.dumps(rows)), out) == 0
    model = json.loads(out.getvalue())
    assert abs(model["per_m2"] - 3000) < 1e-6
