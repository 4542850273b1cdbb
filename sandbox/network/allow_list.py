"""The sites free accounts may reach through the egress proxy.

A list of domain names, each covering its subdomains, matched on the name a
program asks for (never on what it resolves to), so that refusing a site needs
no DNS lookup and an allow-listed name cannot be widened by its DNS records.
The same rule is written into Squid's configuration (a ``dstdomain`` ACL);
``allows`` is its Python twin for callers that want to explain a refusal.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILE = Path(__file__).with_name("default_allow_list.txt")

MAX_NAME_LENGTH = 253
"""The longest domain name DNS can carry (in its dotted text form)."""

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def normalise_domain(entry: str) -> str:
    """``entry`` as a lower-case domain name without leading or trailing dot.

    Raises ValueError saying what is wrong, for IP literals, wildcards, spaces,
    characters outside host names and names DNS could not carry.
    """
    name = entry.strip().lower()
    if not name:
        raise ValueError("an empty name")
    if any(character.isspace() for character in name):
        raise ValueError(f"{entry.strip()!r} contains a space: write one domain a line")
    if "*" in name:
        raise ValueError(f"{name!r} is a wildcard: write the domain itself "
                         "(subdomains are always included)")
    if _is_ip(name.strip("[]")):
        raise ValueError(f"{name!r} is an IP address: the allow-list holds domain names; "
                         "admit addresses with the proxy's allowed CIDRs instead")
    if "/" in name or ":" in name:
        raise ValueError(f"{name!r} is not a domain name: write the host name alone, "
                         "without scheme, port or path")
    name = name.removeprefix(".").removesuffix(".")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{name[:40]}... is {len(name)} characters long; "
                         f"a domain name has at most {MAX_NAME_LENGTH}")
    labels = name.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValueError(f"{name!r} is not a valid domain name: each dot-separated part is "
                             "1 to 63 letters, digits or inner hyphens (write non-ASCII names "
                             "in their xn-- form)")
    if labels[-1].isdigit():
        raise ValueError(f"{name!r} ends in a number, which resolvers read as an IP address")
    return name


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class AllowList:
    """Domain names (lower-case, no leading dot, subdomains included), deduplicated in order."""

    domains: tuple[str, ...]

    def __post_init__(self) -> None:
        normalised = tuple(dict.fromkeys(normalise_domain(domain) for domain in self.domains))
        object.__setattr__(self, "domains", normalised)

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str) -> AllowList:
        """Parse one domain a line; ``#`` starts a comment; ValueError names ``source`` and the line."""
        domains: list[str] = []
        for number, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                domains.append(normalise_domain(text))
            except ValueError as error:
                raise ValueError(f"{source}, line {number}: {error}") from None
        return cls(tuple(domains))

    @classmethod
    def from_file(cls, path: Path) -> AllowList:
        """The list in ``path`` (UTF-8 text, one domain a line, ``#`` comments)."""
        with path.open(encoding="utf-8") as lines:
            return cls.from_lines(lines, str(path))

    @classmethod
    def default(cls) -> AllowList:
        """The list shipped with the server: package indexes, code hosts, documentation, public APIs."""
        return cls.from_file(DEFAULT_FILE)

    def allows(self, host: str) -> bool:
        """Whether a request for ``host`` (a name as the program wrote it) is on the list."""
        name = host.strip().lower().removesuffix(".")
        if _is_ip(name.strip("[]")):
            return False
        return any(name == domain or name.endswith("." + domain) for domain in self.domains)

    def without_covered(self) -> tuple[str, ...]:
        """The domains minus those another entry already covers (Squid rejects such overlaps)."""
        kept = set(self.domains)
        return tuple(domain for domain in self.domains
                     if not any(domain.endswith("." + other) for other in kept if other != domain))
