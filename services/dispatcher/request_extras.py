"""What a webhook destination adds to each request: its custom headers and its client
certificate (mutual TLS), opened at send time like its signing secrets (``signing_keys.py``).

:meth:`RequestExtras.for_destination` gives the headers to send, the same headers as they
may be recorded (a sensitive value as ``…`` and its last four characters: outcomes, the
delivery log and its chain never hold it) and the :class:`ssl.SSLContext` presenting the
destination's certificate. A context is built once per certificate, key and CA (by their
content hash) and shared by every attempt that presents them; loading a key takes a file,
so it is written to a private temporary directory and removed at once.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from signet.records.model import ClientTls, Destination, SealedSecret
from signet.security.secrets import MasterKeyRing, client_key_aad, header_aad, header_hint

# Opened values and built contexts remembered; past it the memory starts afresh.
MAX_REMEMBERED = 4096


@dataclass(slots=True, frozen=True)
class Extras:
    headers: dict[str, str] = field(default_factory=dict)  # to send
    shown: dict[str, str] = field(default_factory=dict)  # to record: sensitive ones masked
    ssl_context: ssl.SSLContext | None = None


NONE = Extras()


class RequestExtras:
    def __init__(self, ring: MasterKeyRing) -> None:
        self._ring = ring
        self._opened: dict[tuple[str, bytes, bytes, bytes], bytes] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}

    def for_destination(self, workspace_id: str, destination: Destination) -> Extras:
        """SecretError when a sealed value does not open; ssl.SSLError when the stored
        certificate cannot be loaded."""
        if not destination.headers and not destination.sealed_headers and destination.tls is None:
            return NONE
        headers = dict(destination.headers)
        shown = dict(destination.headers)
        for header in destination.sealed_headers:
            aad = header_aad(workspace_id, destination.id, header.name)
            value = self._open(header.sealed, aad).decode()
            headers[header.name] = value
            shown[header.name] = header_hint(value)
        context = None
        if destination.tls is not None:
            context = self._context(workspace_id, destination.id, destination.tls)
        return Extras(headers, shown, context)

    def _open(self, sealed: SealedSecret, aad: bytes) -> bytes:
        key = (sealed.key_id, sealed.wrapped_key, sealed.ciphertext, aad)
        plain = self._opened.get(key)
        if plain is None:
            plain = self._ring.open(sealed, aad)
            if len(self._opened) >= MAX_REMEMBERED:
                self._opened.clear()
            self._opened[key] = plain
        return plain

    def _context(self, workspace_id: str, destination_id: str, tls: ClientTls) -> ssl.SSLContext:
        key_pem = self._open(tls.sealed_key, client_key_aad(workspace_id, destination_id))
        digest = hashlib.sha256()
        for part in (tls.certificate.encode(), key_pem, (tls.ca_certificate or "").encode()):
            digest.update(hashlib.sha256(part).digest())
        found = self._contexts.get(digest.hexdigest())
        if found is None:
            found = client_context(tls.certificate, key_pem, tls.ca_certificate)
            if len(self._contexts) >= MAX_REMEMBERED:
                self._contexts.clear()
            self._contexts[digest.hexdigest()] = found
        return found


def client_context(certificate: str, key_pem: bytes, ca_certificate: str | None) -> ssl.SSLContext:
    """A client context presenting ``certificate``; trusting only ``ca_certificate`` when
    given (the receiver's private CA), else the system's roots."""
    context = ssl.create_default_context(cadata=ca_certificate)
    with tempfile.TemporaryDirectory(prefix="signet-tls-") as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_text(certificate)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context
