"""How far a web source is trusted before reading it: a small table of domains, and a default.

The reasoner weighs passages by this number and the LLM sees it beside each passage. It is deliberately
coarse and short: fact-checkers and official bodies high, encyclopedias and news agencies a little lower,
platforms where anyone posts low, everything else in the middle. A domain matches itself and its
subdomains (``en.wikipedia.org`` is ``wikipedia.org``); public-sector suffixes (``.gov``, ``.int``, …)
cover official sites not listed by name. The README lists the table.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: A source no rule covers.
DEFAULT_RELIABILITY = 0.5

#: Fact-checkers (signatories of the IFCN code among them), official statistics and public-health bodies,
#: scientific journals, encyclopedias, news agencies, and user-generated platforms.
DOMAIN_RELIABILITY: dict[str, float] = {
    # fact-checkers
    "snopes.com": 0.9,
    "politifact.com": 0.9,
    "factcheck.org": 0.9,
    "fullfact.org": 0.9,
    "factcheck.afp.com": 0.9,
    "leadstories.com": 0.85,
    "healthfeedback.org": 0.9,
    "climatefeedback.org": 0.9,
    "science.feedback.org": 0.9,
    "checkyourfact.com": 0.8,
    # official statistics, public health, science agencies, international bodies
    "who.int": 0.9,
    "cdc.gov": 0.9,
    "nih.gov": 0.9,
    "nasa.gov": 0.9,
    "noaa.gov": 0.9,
    "census.gov": 0.9,
    "ons.gov.uk": 0.9,
    "ec.europa.eu": 0.85,
    "un.org": 0.85,
    "worldbank.org": 0.85,
    "oecd.org": 0.85,
    # scientific journals
    "nature.com": 0.85,
    "science.org": 0.85,
    "thelancet.com": 0.85,
    "nejm.org": 0.85,
    "bmj.com": 0.85,
    # encyclopedias
    "britannica.com": 0.85,
    "wikipedia.org": 0.75,
    # news agencies and public broadcasters
    "reuters.com": 0.85,
    "apnews.com": 0.85,
    "afp.com": 0.85,
    "bbc.co.uk": 0.8,
    "bbc.com": 0.8,
    # platforms where anyone posts
    "facebook.com": 0.3,
    "x.com": 0.3,
    "twitter.com": 0.3,
    "instagram.com": 0.3,
    "tiktok.com": 0.3,
    "youtube.com": 0.3,
    "reddit.com": 0.3,
    "quora.com": 0.3,
    "medium.com": 0.35,
    "substack.com": 0.35,
}

#: Public-sector suffixes for official sites the table does not name.
SUFFIX_RELIABILITY: dict[str, float] = {
    ".gov": 0.85,
    ".gov.uk": 0.85,
    ".int": 0.85,
    ".mil": 0.8,
    ".edu": 0.75,
}


def source_domain(url: str | None) -> str:
    """The host of ``url`` without ``www.``; empty when there is none."""
    host = (urlsplit(url).hostname or "") if url else ""
    return host.removeprefix("www.")


def source_reliability(url: str | None) -> float:
    """The table's reliability for the domain of ``url`` (the most specific rule wins)."""
    host = source_domain(url)
    if not host:
        return DEFAULT_RELIABILITY
    labels = host.split(".")
    for start in range(len(labels) - 1):  # en.wikipedia.org, then wikipedia.org
        known = DOMAIN_RELIABILITY.get(".".join(labels[start:]))
        if known is not None:
            return known
    for suffix, reliability in sorted(SUFFIX_RELIABILITY.items(), key=lambda item: -len(item[0])):
        if host.endswith(suffix):
            return reliability
    return DEFAULT_RELIABILITY
