"""Tables of the api: property listings."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, Index, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Property(Base):
    __tablename__ = "properties"
    __table_args__ = (
        CheckConstraint("price >= 0", name="ck_properties_price_non_negative"),
        CheckConstraint("bedrooms >= 0", name="ck_properties_bedrooms_non_negative"),
        Index("ix_properties_city", "city"),
        Index("ix_properties_price", "price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    bedrooms: Mapped[int]
    # Deliberate drift (variant broken-migration): no migration adds this column.
    rating: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
