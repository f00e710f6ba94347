"""What ``qsched extender`` is told, in one dataclass.

Its own module, light to import: the CLI takes its flags' defaults from here without loading
the HTTP server, so a default is written once, in the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qsched.service.client import ClientCredentials
from qsched.service.extender.planner import PlannerSettings

#: Largest request body (bytes): room for a whole NodeList (what a scheduler that does not
#: cache nodes sends) of a cluster at the scale qsched plans for, thousands of nodes.
DEFAULT_MAX_BODY = 32 * 2**20


@dataclass(frozen=True)
class ExtenderSettings:
    """Everything ``qsched extender`` takes on its command line."""

    #: Where the HTTP server listens (host:port).
    listen: str = "127.0.0.1:8888"
    #: The path prefix of the verbs (kube-scheduler's ``urlPrefix``).
    prefix: str = "/scheduler"
    #: Serve HTTPS with this certificate and key (PEM); None: plain HTTP.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: A qsched gRPC server to solve on; None solves in a worker process here.
    server: str | None = None
    #: What the extender shows ``server``: TLS settings and a bearer token.
    credentials: ClientCredentials = field(default_factory=ClientCredentials)
    #: Serve the bind verb (needs API credentials).
    bind: bool = False
    kubeconfig: str | None = None
    #: Watch the API server (kubeconfig or in-cluster); without it the extender knows only
    #: what kube-scheduler sends it.
    watch: bool = True
    #: Plan the pending pods with this ``schedulerName``.
    scheduler_name: str = "qsched"
    seed: int = 0
    #: Largest request body (bytes).
    max_body: int = DEFAULT_MAX_BODY
    planner: PlannerSettings = field(default_factory=PlannerSettings)
