"""Fetch a request's ``media_url`` over HTTP, safely, so the photo can be kept as evidence.

Only ``http`` and ``https``; the host is resolved once and the connection goes to the address
that was checked (no second lookup that DNS rebinding could turn inward; TLS still verifies the
certificate for the host name). Outside test, demo and dev mode, any address that is not global
(loopback, private, link-local, shared, reserved, multicast) is refused, so a report cannot make
the server read its own network. Redirects are followed by hand, at most three, each checked the
same way. The answer must come within ``timeout_s`` in all and be at most ``max_bytes`` (counted
on the bytes, whatever ``Content-Length`` says).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import httpx

MAX_REDIRECTS = 3
USER_AGENT = "urbanops-open311/1 (+media_url fetch)"


@dataclass(frozen=True)
class Fetched:
    """The bytes behind a media URL, with what the server said about them."""

    data: bytes
    content_type: str | None
    filename: str | None


class FetchFailed(Exception):
    """The media could not be fetched; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def fetch(url: str, *, allow_private: bool, max_bytes: int, timeout_s: float = 10.0) -> Fetched:
    """The bytes at ``url``; ``FetchFailed`` for anything that is not a quick, small 200."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(follow_redirects=False, timeout=timeout_s, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            response = _get(client, url, allow_private=allow_private, max_bytes=max_bytes,
                            deadline=deadline)  # fmt: skip
            if isinstance(response, Fetched):
                return response
            url = response
    raise FetchFailed("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")


def _get(
    client: httpx.Client, url: str, *, allow_private: bool, max_bytes: int, deadline: float
) -> Fetched | str:
    """One hop: the fetched bytes, or the next URL of a redirect."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchFailed("unsupported_url", "media_url must be an http or https URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchFailed("unsupported_url", "media_url has an invalid port") from exc
    addresses = _checked_addresses(parts.hostname, port, allow_private=allow_private)
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": USER_AGENT}
    for i, address in enumerate(addresses):
        pinned, extensions = _pinned(url, parts.hostname, address, parts.scheme)
        try:
            with client.stream("GET", pinned, headers=headers, extensions=extensions) as response:
                if response.is_redirect and "location" in response.headers:
                    return urljoin(url, response.headers["location"])
                if response.status_code != 200:
                    raise FetchFailed("http_error", f"the server answered {response.status_code}")
                data = _read(response, max_bytes=max_bytes, deadline=deadline)
                content_type = response.headers.get("content-type")
                break
        except httpx.ConnectError as exc:
            if i == len(addresses) - 1:
                raise FetchFailed("unreachable", f"cannot connect to {parts.hostname}") from exc
        except httpx.HTTPError as exc:
            raise FetchFailed("unreachable", f"{type(exc).__name__}: {exc}") from exc
    name = unquote(parts.path.rsplit("/", 1)[-1]) or None
    return Fetched(data=data, content_type=content_type, filename=name)


def _read(response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailed("too_large", f"the media is larger than {max_bytes} bytes")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchFailed("too_large", f"the media is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchFailed("timeout", "the media took too long to arrive")
        chunks.append(chunk)
    return b"".join(chunks)


def _checked_addresses(
    host: str, port: int, *, allow_private: bool
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of ``host`` (IPv4 first), once every one of them is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchFailed("unresolvable", f"cannot resolve {host}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise FetchFailed("unresolvable", f"cannot resolve {host}")
    if not allow_private:
        for address in addresses:
            mapped = getattr(address, "ipv4_mapped", None) or address
            if not mapped.is_global or mapped.is_multicast:
                raise FetchFailed("address_not_allowed", f"{host} is not a public address")
    return sorted(dict.fromkeys(addresses), key=lambda a: a.version)


def _pinned(
    url: str,
    host: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    scheme: str,
) -> tuple[str, dict[str, str]]:
    """``url`` aimed at the checked address; TLS still names (and verifies) the host."""
    literal = f"[{address}]" if address.version == 6 else str(address)
    parts = urlsplit(url)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    return pinned, extensions
