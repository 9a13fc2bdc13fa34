from workers.notifications import Subscriber, fan_out


def test_only_subscribers_of_the_city_get_a_message() -> None:
    subs = [
        Subscriber("a@example.com", frozenset({"Utrecht"})),
        Subscriber("b@example.com", frozenset({"Leiden"})),
    ]
    messages = fan_out("utrecht", "Flat by the canal", subs)
    assert [m.to for m in messages] == ["a@example.com"]
    assert messages[0].subject == "New in utrecht: Flat by the canal"
