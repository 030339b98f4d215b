"""Where a recipient domain's mail goes: a static route or its MX hosts.

``smtp_routes`` maps a domain to ``host:port``; the key ``*`` routes every
domain not listed (demos and tests send everything to a local sink with it).
Only a domain with no route at all is looked up in DNS: MX records by
preference, the domain's own address when it has no MX (RFC 5321 §5.1). An
NXDOMAIN or a null MX (RFC 7505) means the domain cannot receive mail, a hard
failure; any other DNS trouble is a local failure, retried.

Errors raised here carry a reply line as their message, e.g.
``451 4.4.3 MX lookup for example.com failed: timeout``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from postline.errors import DeliveryError, UnroutableError

log = logging.getLogger(__name__)

DEFAULT_ROUTE = "*"
SMTP_PORT = 25
# Seconds a looked-up route is reused before DNS is asked again.
ROUTE_TTL = 300.0


@dataclass(frozen=True, slots=True)
class Route:
    """The hosts to try in order. ``name`` keys connection reuse: domains whose
    MX hosts are the same share their connections.
    """

    name: str
    targets: tuple[tuple[str, int], ...]


class Resolver(Protocol):
    """The DNS lookups routing needs; tests inject one that answers locally."""

    async def mx(self, domain: str) -> list[tuple[int, str]]:
        """(preference, host) pairs; [] when the domain has no MX records.

        Raises ``UnroutableError`` for NXDOMAIN and ``DeliveryError`` for any
        other failure.
        """
        ...

    async def addresses(self, host: str) -> list[str]:
        """IPv4 and IPv6 addresses of a host; [] when it has none."""
        ...


class Router:
    """Resolves domains to routes, caching MX results for ``ROUTE_TTL``.

    ``mx_port`` is the port of MX hosts (25; tests point it at a local server).
    """

    def __init__(
        self,
        routes: dict[str, str],
        resolver: Resolver | None = None,
        *,
        mx_port: int = SMTP_PORT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._routes = {domain.lower(): target for domain, target in routes.items()}
        self._resolver = resolver
        self._mx_port = mx_port
        self._clock = clock
        self._cache: dict[str, tuple[float, Route]] = {}

    async def route(self, domain: str) -> Route:
        domain = domain.lower()
        static = self._routes.get(domain) or self._routes.get(DEFAULT_ROUTE)
        if static is not None:
            host, _, port = static.rpartition(":")
            return Route(static, ((host, int(port)),))

        cached = self._cache.get(domain)
        if cached is not None and cached[0] > self._clock():
            return cached[1]

        route = await self._look_up(domain)
        self._cache[domain] = (self._clock() + ROUTE_TTL, route)
        return route

    async def _look_up(self, domain: str) -> Route:
        resolver = self._resolver or DnsResolver()
        records = sorted(await resolver.mx(domain))
        if len(records) == 1 and records[0][1].rstrip(".") == "":
            raise UnroutableError(
                f"556 5.1.10 domain {domain} accepts no mail (null MX)"
            )
        hosts = [host.rstrip(".").lower() for _, host in records] or [domain]

        targets: list[tuple[str, int]] = []
        for host in hosts:
            addresses = await _quiet(resolver, host)
            targets.extend((address, self._mx_port) for address in addresses)
        if not targets:
            names = ", ".join(hosts)
            raise DeliveryError(
                f"451 4.4.4 no address for the mail hosts of {domain}: {names}"
            )

        log.debug("route domain=%s hosts=%s", domain, ",".join(hosts))
        name = f"{','.join(sorted(set(hosts)))}:{self._mx_port}"
        return Route(name, tuple(targets))


async def _quiet(resolver: Resolver, host: str) -> list[str]:
    """A host's addresses; a host that does not resolve is skipped, not fatal."""
    try:
        return await resolver.addresses(host)
    except DeliveryError as exc:
        log.info("mx_host_unresolved host=%s error=%s", host, exc)
        return []


class DnsResolver:
    """The ``Resolver`` backed by dnspython; DNS errors are translated here."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._resolver = dns.asyncresolver.Resolver()
        self._resolver.lifetime = timeout

    async def mx(self, domain: str) -> list[tuple[int, str]]:
        try:
            answer = await self._resolver.resolve(domain, dns.rdatatype.MX)
        except dns.resolver.NXDOMAIN as exc:
            raise UnroutableError(
                f"550 5.1.2 domain {domain} does not exist (NXDOMAIN)"
            ) from exc
        except dns.resolver.NoAnswer:
            return []
        except dns.exception.DNSException as exc:
            raise DeliveryError(
                f"451 4.4.3 MX lookup for {domain} failed: {_describe(exc)}"
            ) from exc
        return [(r.preference, r.exchange.to_text()) for r in answer]

    async def addresses(self, host: str) -> list[str]:
        found: list[str] = []
        for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = await self._resolver.resolve(host, kind)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                raise DeliveryError(
                    f"451 4.4.3 address lookup for {host} failed: {_describe(exc)}"
                ) from exc
            found.extend(r.to_text() for r in answer)
        return found


def _describe(exc: dns.exception.DNSException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "no name server answered"
    return type(exc).__name__
