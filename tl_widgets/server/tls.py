"""HTTPS for ``tl-widgets serve``: browsers give the camera only to secure pages.

Three ways, in docs/WORKSHOP.md: a real certificate (``--certfile``,
``--keyfile``), a reverse proxy that terminates TLS, or ``--https``:
:func:`self_signed` makes (once, then reuses) a certificate for this machine's
names and addresses, keeps it under the home (the key mode 0600), and returns
its SHA-256 fingerprint, which ``serve`` prints so students can compare it with
what their browser's warning shows. :func:`tls_voila` returns a Voilà
application class that listens with TLS.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
from pathlib import Path
from typing import Any

__all__ = ["self_signed", "fingerprint", "server_context", "tls_voila", "machine_names", "CERT_FILE", "KEY_FILE"]

CERT_FILE = "studio-cert.pem"
KEY_FILE = "studio-key.pem"
VALID_DAYS = 90
RENEW_DAYS = 7


def machine_names() -> tuple[list[str], list[str]]:
    """This machine's DNS names and IP addresses (those a student may type), loopback included."""
    names = {"localhost", socket.gethostname()}
    try:
        names.add(socket.getfqdn())
    except OSError:
        pass  # no resolver: the host name is enough
    addresses = {"127.0.0.1", "::1"}
    import psutil

    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                addresses.add(entry.address.split("%")[0])
    return sorted(n for n in names if n), sorted(addresses)


def fingerprint(cert_path: str | os.PathLike[str]) -> str:
    """The certificate's SHA-256 fingerprint as browsers show it (``AB:CD:...``)."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert_path).read_text(encoding="ascii"))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _covers(cert_path: Path, names: list[str], addresses: list[str]) -> bool:
    """True when the certificate at ``cert_path`` names every name and address and is valid for a while yet."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    if left < datetime.timedelta(days=RENEW_DAYS):
        return False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have_names = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(names) <= have_names and set(addresses) <= have_ips


def self_signed(folder: str | os.PathLike[str], names: list[str] | None = None,
                addresses: list[str] | None = None) -> tuple[Path, Path, str]:
    """A self-signed certificate for this machine in ``folder`` (made when missing, expiring or not covering a
    name or address); returns ``(certfile, keyfile, SHA-256 fingerprint)``.

    Args:
        folder: Where the certificate and key are kept (created, mode 0700; the key 0600).
        names: DNS names it must cover (None: :func:`machine_names`).
        addresses: IP addresses it must cover (None: :func:`machine_names`).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    found_names, found_addresses = machine_names()
    names = sorted(set(names if names is not None else found_names))
    addresses = sorted(set(addresses if addresses is not None else found_addresses))
    home = Path(folder)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = home / CERT_FILE, home / KEY_FILE
    if cert_path.is_file() and key_path.is_file() and _covers(cert_path, names, addresses):
        return cert_path, key_path, fingerprint(cert_path)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "tl-widgets"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tl_widgets Studio (self-signed)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, fingerprint(cert_path)


def server_context(certfile: str | os.PathLike[str], keyfile: str | os.PathLike[str]) -> ssl.SSLContext:
    """A TLS server context for the certificate and key.

    Raises:
        ValueError: Missing files, or a certificate and key that do not load or do not match.
    """
    for what, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        if not Path(path).is_file():
            raise ValueError(f"Expected {what} to name a PEM file. Received: {str(path)!r} (not found)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(certfile), str(keyfile))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"Expected a PEM certificate and its private key. Received: {str(certfile)!r} and "
                         f"{str(keyfile)!r} ({exc})") from exc
    return context


def tls_voila(base: type, context: ssl.SSLContext) -> type:
    """``base`` (a Voilà application class) listening with TLS."""

    class TlsVoila(base):  # type: ignore[misc, valid-type]
        def listen(self) -> Any:
            plain = self.app.listen

            def listen_tls(port: int, address: str = "", **kwargs: Any) -> Any:
                return plain(port, address, ssl_options=context, **kwargs)

            self.app.listen = listen_tls
            return super().listen()

    return TlsVoila
