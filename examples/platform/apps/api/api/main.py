"""HTTP endpoints: health, readiness, version and property listings."""

import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from api import __version__
from api.db import make_engine, session_factory
from api.models import Property


class PropertyIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    price: Decimal = Field(ge=0)
    bedrooms: int = Field(ge=0)


class PropertyOut(PropertyIn):
    id: int


def create_app(engine: Engine | None = None) -> FastAPI:
    engine = engine or make_engine()
    factory = session_factory(engine)
    app = FastAPI(title="Sample platform API", version=__version__)

    def session() -> Iterator[Session]:
        with factory() as s:
            yield s

    db = Annotated[Session, Depends(session)]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready(response: Response) -> dict[str, str]:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            response.status_code = 503
            return {"status": "database unavailable"}
        return {"status": "ready"}

    @app.get("/version")
    def version() -> dict[str, str]:
        return {"version": __version__, "sha": os.environ.get("GIT_SHA", "unknown")}

    @app.get("/properties")
    def list_properties(s: db, city: str | None = None) -> list[PropertyOut]:
        query = select(Property).order_by(Property.id)
        if city:
            query = query.where(Property.city == city)
        return [_out(p) for p in s.scalars(query)]

    @app.post("/properties", status_code=201)
    def create_property(body: PropertyIn, s: db) -> PropertyOut:
        prop = Property(**body.model_dump())
        s.add(prop)
        s.commit()
        return _out(prop)

    @app.get("/properties/{property_id}")
    def get_property(property_id: int, s: db) -> PropertyOut:
        prop = s.get(Property, property_id)
        if prop is None:
            raise HTTPException(status_code=404, detail="property not found")
        return _out(prop)

    return app


def _out(prop: Property) -> PropertyOut:
    return PropertyOut(
        id=prop.id, title=prop.title, city=prop.city, price=prop.price, bedrooms=prop.bedrooms
    )
