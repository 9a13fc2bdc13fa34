"""Fan a listing event out to the subscribers who asked for its city."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Subscriber:
    email: str
    cities: frozenset[str]


@dataclass(frozen=True)
class Message:
    to: str
    subject: str


def fan_out(city: str, title: str, subscribers: list[Subscriber]) -> list[Message]:
    wanted = city.casefold()
    return [
        Message(to=s.email, subject=f"New in {city}: {title}")
        for s in subscribers
        if wanted in {c.casefold() for c in s.cities}
    ]
