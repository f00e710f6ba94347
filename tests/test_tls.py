"""TLS and mutual TLS on the gRPC service, with certificates made in the test (trustme)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import trustme
from service_helpers import write_pair

from qsched.cli import main
from qsched.service.server import Server
from qsched.service.tls import ClientTLS, ServerTLS, channel, is_loopback
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

CALL_TIMEOUT = 10


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1, a client certificate from the same CA and
    one from a stranger CA."""
    authority, stranger = trustme.CA(), trustme.CA()
    paths = {"ca": tmp_path / "ca.pem"}
    authority.cert_pem.write_to_path(paths["ca"])
    paths["server_cert"], paths["server_key"] = write_pair(
        authority.issue_cert("127.0.0.1"), tmp_path, "server"
    )
    paths["client_cert"], paths["client_key"] = write_pair(
        authority.issue_cert("client@tenant-a"), tmp_path, "client"
    )
    paths["stranger_cert"], paths["stranger_key"] = write_pair(
        stranger.issue_cert("mallory"), tmp_path, "stranger"
    )
    return paths


def list_solvers(address: str, tls: ClientTLS | None) -> list[str]:
    with channel(address, tls) as open_channel:
        stub = scheduler_pb2_grpc.SchedulerServiceStub(open_channel)
        answer = stub.ListSolvers(scheduler_pb2.ListSolversRequest(), timeout=CALL_TIMEOUT)
        return [info.name for info in answer.solvers]


def test_plaintext_is_refused_off_loopback_unless_insecure(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--insecure"):
        Server("0.0.0.0:0", tmp_path / "jobs.db")
    assert is_loopback("127.0.0.1:50051") and is_loopback("localhost:1") and is_loopback("[::1]:1")
    assert not is_loopback("0.0.0.0:50051") and not is_loopback("[::]:1")
    assert not is_loopback("qsched.example:443") and not is_loopback(":50051")


def test_tls_serves_clients_that_trust_its_ca_only(tmp_path: Path, pki: dict[str, Path]) -> None:
    tls = ServerTLS(pki["server_cert"], pki["server_key"])
    with Server("127.0.0.1:0", tmp_path / "jobs.db", tls=tls) as server:
        assert "min-min" in list_solvers(server.address, ClientTLS(ca=pki["ca"]))
        for client in (None, ClientTLS()):  # plaintext; the system's roots only
            with pytest.raises(grpc.RpcError) as refused:
                list_solvers(server.address, client)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_needs_a_client_certificate_from_the_ca(
    tmp_path: Path, pki: dict[str, Path]
) -> None:
    tls = ServerTLS(pki["server_cert"], pki["server_key"], client_ca=pki["ca"])
    with Server("127.0.0.1:0", tmp_path / "jobs.db", tls=tls) as server:
        client = ClientTLS(pki["ca"], pki["client_cert"], pki["client_key"])
        assert "min-min" in list_solvers(server.address, client)
        strangers = (
            ClientTLS(pki["ca"]),
            ClientTLS(pki["ca"], pki["stranger_cert"], pki["stranger_key"]),
        )
        for stranger in strangers:
            with pytest.raises(grpc.RpcError) as refused:
                list_solvers(server.address, stranger)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_cli_client_speaks_tls(tmp_path: Path, pki: dict[str, Path], capsys) -> None:
    tls = ServerTLS(pki["server_cert"], pki["server_key"], client_ca=pki["ca"])
    with Server("127.0.0.1:0", tmp_path / "jobs.db", tls=tls) as server:
        flags = ["--tls-ca", str(pki["ca"]), "--tls-cert", str(pki["client_cert"])]
        flags += ["--tls-key", str(pki["client_key"])]
        assert main(["solvers", "--server", server.address, *flags]) == 0
        assert "min-min" in capsys.readouterr().out
        assert (
            main(
                [
                    "solvers",
                    "--server",
                    server.address,
                    "--tls-ca",
                    str(pki["ca"]),
                    "--tls-cert",
                    "x",
                ]
            )
            == 2
        )
        assert "go together" in capsys.readouterr().err


def test_serve_flags_are_checked_before_anything_listens(tmp_path: Path, capsys) -> None:
    assert main(["serve", "--listen", "127.0.0.1:0", "--tls-cert", "c.pem"]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
    assert main(["serve", "--listen", "0.0.0.0:0", "--db", str(tmp_path / "j.db")]) == 2
    assert "--insecure" in capsys.readouterr().err
