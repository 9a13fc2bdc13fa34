from fastapi.testclient import TestClient

LISTING = {"title": "Flat by the canal", "city": "Utrecht", "price": "325000.00", "bedrooms": 2}


def test_create_and_read_property(client: TestClient) -> None:
    created = client.post("/properties", json=LISTING)
    assert created.status_code == 201
    prop_id = created.json()["id"]
    assert client.get(f"/properties/{prop_id}").json()["city"] == "Utrecht"


def test_filter_by_city(client: TestClient) -> None:
    client.post("/properties", json=LISTING)
    client.post("/properties", json={**LISTING, "city": "Leiden"})
    cities = [p["city"] for p in client.get("/properties", params={"city": "Leiden"}).json()]
    assert cities == ["Leiden"]


def test_missing_property_is_404(client: TestClient) -> None:
    assert client.get("/properties/999").status_code == 404


def test_negative_price_is_rejected(client: TestClient) -> None:
    assert client.post("/properties", json={**LISTING, "price": "-1"}).status_code == 422
