"""Routing: static routes, the default route, and MX lookups through a resolver."""

from __future__ import annotations

import dns.exception
import dns.resolver
import pytest

from postline.errors import DeliveryError, UnroutableError
from postline.mta.routing import DnsResolver, Router


class FakeResolver:
    """Answers from tables; counts MX lookups."""

    def __init__(
        self,
        mx: dict[str, list[tuple[int, str]]],
        addresses: dict[str, list[str]],
        missing: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        self._mx = mx
        self._addresses = addresses
        self._missing = missing
        self.mx_lookups = 0

    async def mx(self, domain: str) -> list[tuple[int, str]]:
        self.mx_lookups += 1
        if domain in self._missing:
            raise UnroutableError(
                f"550 5.1.2 domain {domain} does not exist (NXDOMAIN)"
            )
        return self._mx.get(domain, [])

    async def addresses(self, host: str) -> list[str]:
        return self._addresses.get(host, [])


async def test_a_listed_domain_takes_its_static_route() -> None:
    router = Router({"Example.test": "127.0.0.1:2525", "*": "127.0.0.1:2626"})

    route = await router.route("EXAMPLE.test")

    assert route.targets == (("127.0.0.1", 2525),)


async def test_the_star_route_takes_every_domain_not_listed() -> None:
    router = Router({"example.test": "127.0.0.1:2525", "*": "127.0.0.1:2626"})

    route = await router.route("elsewhere.test")

    assert (route.name, route.targets) == ("127.0.0.1:2626", (("127.0.0.1", 2626),))


async def test_mx_hosts_are_tried_in_preference_order_and_cached() -> None:
    resolver = FakeResolver(
        {"example.test": [(20, "mx2.example.test."), (10, "mx1.example.test.")]},
        {"mx1.example.test": ["127.0.0.1"], "mx2.example.test": ["127.0.0.2"]},
    )
    router = Router({}, resolver, mx_port=2525)

    route = await router.route("example.test")
    await router.route("example.test")

    assert route.targets == (("127.0.0.1", 2525), ("127.0.0.2", 2525))
    assert route.name == "mx1.example.test,mx2.example.test:2525"
    assert resolver.mx_lookups == 1


async def test_domains_sharing_mx_hosts_share_a_route_name() -> None:
    mx = [(10, "mx.shared.test.")]
    resolver = FakeResolver(
        {"a.test": mx, "b.test": mx}, {"mx.shared.test": ["127.0.0.1"]}
    )
    router = Router({}, resolver)

    assert (await router.route("a.test")).name == (await router.route("b.test")).name


async def test_a_domain_without_mx_is_its_own_mail_host() -> None:
    resolver = FakeResolver({}, {"plain.test": ["127.0.0.3"]})

    route = await Router({}, resolver, mx_port=2525).route("plain.test")

    assert route.targets == (("127.0.0.3", 2525),)


async def test_a_null_mx_means_the_domain_cannot_receive_mail() -> None:
    resolver = FakeResolver({"nomail.test": [(0, ".")]}, {})

    with pytest.raises(UnroutableError, match=r"^556 5\.1\.10 "):
        await Router({}, resolver).route("nomail.test")


async def test_a_domain_that_does_not_exist_is_unroutable() -> None:
    resolver = FakeResolver({}, {}, missing={"gone.test"})

    with pytest.raises(UnroutableError, match=r"^550 5\.1\.2 "):
        await Router({}, resolver).route("gone.test")


async def test_mx_hosts_without_addresses_are_a_local_failure() -> None:
    resolver = FakeResolver({"example.test": [(10, "mx.example.test.")]}, {})

    with pytest.raises(DeliveryError, match=r"^451 4\.4\.4 ") as caught:
        await Router({}, resolver).route("example.test")

    assert not isinstance(caught.value, UnroutableError)


@pytest.mark.parametrize(
    ("error", "expected", "pattern"),
    [
        (
            dns.resolver.NXDOMAIN(),  # type: ignore[no-untyped-call]
            UnroutableError,
            r"^550 5\.1\.2 .*NXDOMAIN",
        ),
        (
            dns.exception.Timeout(),  # type: ignore[no-untyped-call]
            DeliveryError,
            r"^451 4\.4\.3 .*timeout",
        ),
        (
            dns.resolver.NoNameservers(),  # type: ignore[no-untyped-call]
            DeliveryError,
            r"^451 4\.4\.3 ",
        ),
    ],
)
async def test_dns_errors_are_translated_to_replies(
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    expected: type[Exception],
    pattern: str,
) -> None:
    resolver = DnsResolver()

    async def failing(*args: object, **kwargs: object) -> object:
        raise error

    monkeypatch.setattr(resolver._resolver, "resolve", failing)

    with pytest.raises(expected, match=pattern):
        await resolver.mx("example.test")


async def test_a_domain_without_mx_records_answers_an_empty_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolver = DnsResolver()

    async def no_answer(*args: object, **kwargs: object) -> object:
        raise dns.resolver.NoAnswer()  # type: ignore[no-untyped-call]

    monkeypatch.setattr(resolver._resolver, "resolve", no_answer)

    assert await resolver.mx("example.test") == []
