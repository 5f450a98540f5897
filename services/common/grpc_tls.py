"""Mutual TLS between the services, when GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and
GRPC_TLS_CA_FILE are set (in Kubernetes: a Secret from cert-manager, `mtls.existingSecret`).

A server then accepts only clients whose certificate the CA signed, and a client only a server
whose certificate it signed: a pod with no certificate cannot even open a connection. The service
token still applies on top. The kubelet's gRPC probe speaks no TLS, so the health service alone
is also served in plaintext on HEALTH_PORT (see grpc_server.serve_health_only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc

ENV_NAMES = ("GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE", "GRPC_TLS_CA_FILE")


class HoldsTlsFiles(Protocol):
    grpc_tls_cert_file: Path | None
    grpc_tls_key_file: Path | None
    grpc_tls_ca_file: Path | None


def check_all_or_none(settings: HoldsTlsFiles) -> None:
    """Raises ValueError when only some of the three files are set: half a TLS setup would
    silently be none."""
    given = [settings.grpc_tls_cert_file, settings.grpc_tls_key_file, settings.grpc_tls_ca_file]
    if any(given) and not all(given):
        raise ValueError("GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE go "
                         "together: set all three for mutual TLS, or none")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path

    @classmethod
    def of(cls, settings: HoldsTlsFiles) -> TlsFiles | None:
        if not (settings.grpc_tls_cert_file and settings.grpc_tls_key_file
                and settings.grpc_tls_ca_file):
            return None
        return cls(settings.grpc_tls_cert_file, settings.grpc_tls_key_file,
                   settings.grpc_tls_ca_file)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TlsFiles | None:
        """The same three settings for a tool without a settings class (`dne`)."""
        cert, key, ca = (environ.get(name) or None for name in ENV_NAMES)
        if not (cert or key or ca):
            return None
        if not (cert and key and ca):
            raise ValueError("GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE go "
                             "together: set all three for mutual TLS, or none")
        return cls(Path(cert), Path(key), Path(ca))

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.ca.read_bytes(), require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(), private_key=self.key.read_bytes(),
            certificate_chain=self.cert.read_bytes())
