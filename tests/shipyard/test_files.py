from shipyard.files import free_port


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    # The kernel repeats itself (about 35 repeats in 1000 binds here): a router and its colours once shared a port.
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)
