import io
import json

from workers.__main__ import main


def test_main_fans_out_each_event_line() -> None:
    event = {
        "city": "Lyon",
        "title": "Loft",
        "subscribers": [
            {"email": "a@example.com", "cities": ["lyon"]},
            {"email": "b@example.com", "cities": []},
        ],
    }
    out = io.StringIO()
    assert main(io.StringIO(json.dumps(event) + "\n\n"), out) == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"to": "a@example.com", "subject": "New in Lyon: Loft"}
    ]
