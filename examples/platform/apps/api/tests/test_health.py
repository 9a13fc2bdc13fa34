from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.main import create_app


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_database_answers(client: TestClient) -> None:
    assert client.get("/ready").status_code == 200


def test_not_ready_without_database() -> None:
    broken = create_engine("sqlite:////nonexistent/folder/api.db")
    with TestClient(create_app(broken)) as client:
        assert client.get("/ready").status_code == 503


def test_version_reports_sha(client: TestClient) -> None:
    body = client.get("/version").json()
    assert body["version"] == "1.4.2"
    assert "sha" in body
