"""`qsched extender --server` on a `qsched serve` that requires TLS and a bearer token.

Both run as the commands an operator starts, on 127.0.0.1, with certificates made in the
test (trustme). With the CA and the token the extender's plans come from the server's Solve
RPC; without the token every remote solve is refused, the extender says why in its log and
still answers kube-scheduler from its fallback instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import trustme
from extender_helpers import node, pod
from service_helpers import write_pair

from qsched.service.auth import digest

TOKEN = "extender-token-1"
#: Starting a command imports the solver stack: seconds, many more on a busy machine.
START_SECONDS = 120.0
LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.timeout(600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Callable[[], object], what: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def sample(url: str, name: str) -> float:
    """One sample of the Prometheus exposition at ``url`` (0 when absent)."""
    text = requests.get(url, timeout=5).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@dataclass
class Command:
    """A `qsched` command running in its own process group, its output in files."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def log(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within 15 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extender-remote")


@pytest.fixture(scope="module")
def qsched(scratch: Path) -> Iterator[Callable[..., Command]]:
    """Factory: ``qsched(*argv)`` starts ``python -m qsched ARGV``; all are stopped (SIGTERM,
    then SIGKILL) at the end of the module."""
    started: list[Command] = []
    environment = {k: v for k, v in os.environ.items() if k != "QSCHED_TOKEN"}

    def start(*argv: str) -> Command:
        out, err = (scratch / f"{argv[0]}-{len(started)}.{kind}" for kind in ("out", "err"))
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "qsched", *argv],
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                cwd=scratch,
                env=environment,
                start_new_session=True,
            )
        started.append(Command(process, out, err))
        return started[-1]

    yield start
    for command in reversed(started):
        command.stop()


@dataclass
class SecuredServer:
    address: str
    ca: Path
    #: The server's Prometheus exposition.
    metrics: str

    def solves(self) -> float:
        """Solve RPCs the server answered OK."""
        return sample(self.metrics, 'qsched_rpcs_total{code="OK",method="Solve"}')


@pytest.fixture(scope="module")
def secured_server(scratch: Path, qsched: Callable[..., Command]) -> SecuredServer:
    """``qsched serve`` with TLS (a CA made here) and one tenant whose token is `TOKEN`; one
    for the module, since it takes a while to start."""
    authority = trustme.CA()
    ca = scratch / "ca.pem"
    authority.cert_pem.write_to_path(ca)
    cert, key = write_pair(authority.issue_cert("127.0.0.1"), scratch, "server")
    tokens = scratch / "tokens.json"
    tenant = {"name": "scheduler", "scopes": ["submit", "read"], "tokens_sha256": [digest(TOKEN)]}
    tokens.write_text(json.dumps({"tenants": [tenant]}))
    metrics = free_port()
    serve = qsched(
        "serve", "--listen", "127.0.0.1:0", "--db", str(scratch / "jobs.db"),
        "--tls-cert", str(cert), "--tls-key", str(key), "--tokens", str(tokens),
        "--workers", "1", "--metrics-listen", f"127.0.0.1:{metrics}",
    )  # fmt: skip
    wait_for(
        lambda: LISTENING.search(serve.out.read_text()) or serve.process.poll() is not None,
        "qsched serve printed no address",
    )
    listening = LISTENING.search(serve.out.read_text())
    assert listening, serve.log()
    return SecuredServer(listening[1], ca, f"http://127.0.0.1:{metrics}/metrics")


def start_extender(qsched: Callable[..., Command], *flags: str) -> tuple[str, Command]:
    """``qsched extender`` on a free loopback port, ready (its warm-up solve over)."""
    port = free_port()
    extender = qsched(
        "extender", "--listen", f"127.0.0.1:{port}", "--solve-seconds", "1",
        "--batch-window", "0.05", *flags,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: answers(f"{url}/readyz") or extender.process.poll() is not None,
        "the extender did not get ready",
    )
    assert extender.process.poll() is None, extender.log()
    return url, extender


def filter_pod(url: str, uid: str) -> requests.Response:
    nodes = [node("small", cpu="2"), node("big", cpu="8")]
    body = {"Pod": pod(uid), "Nodes": {"items": nodes}, "NodeNames": None}
    return requests.post(f"{url}/scheduler/filter", data=json.dumps(body), headers=JSON, timeout=5)


def test_the_extender_plans_on_a_tls_and_token_server(
    scratch: Path, qsched: Callable[..., Command], secured_server: SecuredServer
) -> None:
    token = scratch / "token"
    token.write_text(f"{TOKEN}\n")
    url, extender = start_extender(
        qsched,
        "--server", secured_server.address,
        "--tls-ca", str(secured_server.ca),
        "--token-file", str(token),
    )  # fmt: skip
    try:
        warmed = secured_server.solves()
        assert warmed >= 1, extender.log()  # the warm-up solve went to the server

        assert filter_pod(url, "remote-1").status_code == 200
        plans = f"{url}/metrics"
        wait_for(lambda: sample(plans, "qsched_extender_plans_total") >= 1, "no plan", 60)
        assert secured_server.solves() > warmed  # the plan is the server's answer

        body = {"Pod": pod("remote-1"), "Nodes": None, "NodeNames": ["small", "big"]}
        scores = requests.post(
            f"{url}/scheduler/prioritize", data=json.dumps(body), headers=JSON, timeout=5
        ).json()
        assert sorted(entry["Score"] for entry in scores)[-1] == 10  # the planned node
        assert "UNAUTHENTICATED" not in extender.log()
    finally:
        extender.stop()  # its plans must not count in the next test's


def test_without_the_token_the_extender_says_so_and_still_answers(
    qsched: Callable[..., Command], secured_server: SecuredServer
) -> None:
    before = secured_server.solves()
    url, extender = start_extender(
        qsched, "--server", secured_server.address, "--tls-ca", str(secured_server.ca)
    )
    started = time.monotonic()
    answer = filter_pod(url, "refused-1")
    assert answer.status_code == 200 and answer.json()["Error"] == ""
    assert time.monotonic() - started < 5  # answered from the fallback, not after a hang
    wait_for(lambda: "UNAUTHENTICATED" in extender.log(), "no UNAUTHENTICATED in the log", 60)
    assert sample(f"{url}/metrics", "qsched_extender_plans_total") == 0
    assert secured_server.solves() == before
