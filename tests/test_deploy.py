"""deploy/ stays deployable: every manifest is a well-formed Kubernetes object, the
scheduler configuration passes kube-scheduler's own rules, the pieces agree with each
other (ports, names, paths, image), the bind component adds binding and nothing else,
and the image is built and run as the manifests assume.

Nothing here needs a cluster or Docker. The objects go through the official Python
client's models; the KubeSchedulerConfiguration, which no Python library models, is
checked against a transcription of k8s.io/kube-scheduler config/v1/types.go (the
fields) and kubernetes pkg/scheduler/apis/config/validation (the rules) at the release
of the kube-scheduler image in deployment.yaml. The bind component is rendered here
with a small JSON-patch applier and, where kubectl is installed, compared with what
`kubectl kustomize` renders.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from distribution import build_inputs
from kubernetes.client import ApiClient

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIND = DEPLOY / "components" / "bind"
NAMESPACE = "qsched-system"
SERVICE_ACCOUNT = "qsched-scheduler"

# (apiVersion, kind) -> the client's model; an object of any other type fails the suite.
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
# Roles the cluster brings; bindings may refer to them without defining them.
BUILT_IN_ROLES = {
    ("ClusterRole", "system:kube-scheduler"),
    ("ClusterRole", "system:volume-scheduler"),
    ("Role", "extension-apiserver-authentication-reader"),
}
KUSTOMIZE_KINDS = {"Kustomization", "Component"}


def load(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization(directory: Path) -> dict:
    (doc,) = load(directory / "kustomization.yaml")
    return doc


def resources(directory: Path) -> list[dict]:
    """The objects a kustomization's ``resources`` list, in its order."""
    return [obj for name in kustomization(directory)["resources"] for obj in load(directory / name)]


def key(obj: dict) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def find(objects: list[dict], kind: str, name: str) -> dict:
    (match,) = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    return match


# --- Rendering: what `kubectl apply -k` would send, without kustomize -------------------


def json_pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def apply_json_patch(document: dict, operations: list[dict]) -> dict:
    """RFC 6902 with the three operations deploy/ uses (test, add, replace); any other
    operation, or a path that does not resolve, is an error rather than a silent no-op."""
    result = copy.deepcopy(document)
    for operation in operations:
        *parents, last = json_pointer(operation["path"])
        node = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        op = operation["op"]
        if op == "test":
            current = node[int(last)] if isinstance(node, list) else node[last]
            if current != operation["value"]:
                raise ValueError(f"test failed at {operation['path']}: {current!r}")
        elif op == "add" and isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), operation["value"])
        elif op == "add":
            node[last] = operation["value"]
        elif op == "replace":
            if isinstance(node, list):
                node[int(last)] = operation["value"]
            elif last not in node:
                raise KeyError(f"replace of a missing member: {operation['path']}")
            else:
                node[last] = operation["value"]
        else:
            raise ValueError(f"unsupported JSON patch operation {op!r}")
    return result


def targets(obj: dict, target: dict) -> bool:
    group, _, version = obj["apiVersion"].rpartition("/")
    wanted = {"group": group, "version": version, "kind": obj["kind"]}
    wanted |= {"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace")}
    return all(wanted[field] == value for field, value in target.items())


def set_images(objects: list[dict], images: list[dict]) -> None:
    """kustomize's ``images:``: a new name and/or tag for every container of that image."""
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        for container in obj["spec"]["template"]["spec"]["containers"]:
            name, _, tag = container["image"].partition(":")
            for image in images:
                if image["name"] == name:
                    tag = image.get("newTag", tag)
                    container["image"] = f"{image.get('newName', name)}:{tag}"


def render(with_bind: bool) -> list[dict]:
    base = kustomization(DEPLOY)
    objects = copy.deepcopy(resources(DEPLOY))
    if with_bind:
        component = kustomization(BIND)
        assert component["kind"] == "Component"
        objects += resources(BIND)
        for patch in component["patches"]:
            (matched,) = [i for i, obj in enumerate(objects) if targets(obj, patch["target"])]
            (operations,) = load(BIND / patch["path"])
            objects[matched] = apply_json_patch(objects[matched], operations)
    set_images(objects, base["images"])
    return objects


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return render(with_bind=False)


@pytest.fixture(scope="module")
def bound() -> list[dict]:
    return render(with_bind=True)


# --- Every file, every object ----------------------------------------------------------


def test_every_yaml_file_is_an_object_a_kustomization_or_a_patch_in_use():
    """A file nobody lists is never applied, and nothing below would check it."""
    listed = {DEPLOY / name for name in kustomization(DEPLOY)["resources"]}
    component = kustomization(BIND)
    listed |= {BIND / name for name in component["resources"]}
    patches = {BIND / patch["path"] for patch in component["patches"]}
    for path in sorted(DEPLOY.rglob("*.y*ml")):
        docs = load(path)
        if path.name == "kustomization.yaml":
            assert [doc["kind"] for doc in docs] in (["Kustomization"], ["Component"]), path
        elif path in patches:
            assert len(docs) == 1 and isinstance(docs[0], list), path
        else:
            assert path in listed, f"{path} is in no kustomization's resources"
            for doc in docs:
                assert (doc["apiVersion"], doc["kind"]) in MODELS, path


def drop_nulls(value):
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def round_trip(obj: dict) -> dict:
    """The object through the official client's model and back. The models validate
    required fields and enums as they are built, and keep only the fields the API
    knows, so a misspelt or misplaced field comes back missing."""
    client = ApiClient()
    model = client._ApiClient__deserialize(obj, MODELS[(obj["apiVersion"], obj["kind"])])
    return client.sanitize_for_serialization(model)


def all_objects() -> list[dict]:
    return resources(DEPLOY) + resources(BIND)


@pytest.mark.parametrize("obj", all_objects(), ids=lambda obj: "/".join(key(obj)))
def test_object_survives_the_kubernetes_models(obj):
    assert round_trip(obj) == drop_nulls(obj)


def test_a_misspelt_field_does_not_survive_the_models(base):
    deployment = copy.deepcopy(find(base, "Deployment", "qsched-scheduler"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    assert round_trip(deployment) != deployment
    del deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        round_trip(deployment)


def test_objects_are_unique_and_in_the_qsched_namespace(bound):
    keys = [key(obj) for obj in bound]
    assert len(keys) == len(set(keys))
    for obj in bound:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert namespace is None, key(obj)
        elif obj["kind"] == "RoleBinding" and obj["roleRef"]["name"].startswith("extension-"):
            # The one object that must live elsewhere: it reads kube-system's ConfigMap.
            assert namespace == "kube-system"
        else:
            assert namespace == NAMESPACE, key(obj)
    assert find(bound, "Namespace", NAMESPACE)


# --- RBAC -------------------------------------------------------------------------------


def grants(objects: list[dict], group: str, resource: str, verb: str, name: str = "") -> bool:
    """Whether a Role or ClusterRole defined here allows this (built-in roles excluded)."""
    for role in objects:
        if role["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in role["rules"]:
            if (
                group in rule["apiGroups"]
                and resource in rule["resources"]
                and verb in rule["verbs"]
                and (not rule.get("resourceNames") or name in rule["resourceNames"])
            ):
                return True
    return False


def test_every_binding_joins_our_service_account_to_an_existing_role(bound):
    defined = {(obj["kind"], obj["metadata"]["name"]) for obj in bound}
    assert ("ServiceAccount", SERVICE_ACCOUNT) in defined
    bindings = [obj for obj in bound if obj["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    for binding in bindings:
        ref = binding["roleRef"]
        assert (ref["kind"], ref["name"]) in defined | BUILT_IN_ROLES, key(binding)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
        ]
    bound_roles = {(b["roleRef"]["kind"], b["roleRef"]["name"]) for b in bindings}
    assert bound_roles >= BUILT_IN_ROLES
    roles = {(obj["kind"], obj["metadata"]["name"]) for obj in bound if "rules" in obj}
    assert roles <= bound_roles, "a role nobody is bound to"


def test_the_extender_reads_nodes_and_pods(base):
    for resource in ("nodes", "pods"):
        for verb in ("get", "list", "watch"):
            assert grants(base, "", resource, verb), (resource, verb)


# --- The scheduler configuration ----------------------------------------------------------

# Field names and JSON types of KubeSchedulerConfiguration v1 (k8s.io/kube-scheduler
# config/v1/types.go at v0.34.x, with component-base config/v1alpha1 for leaderElection,
# clientConnection and the inlined DebuggingConfiguration). kube-scheduler decodes this
# file strictly: an unknown field is a startup error. healthzBindAddress and
# metricsBindAddress were removed in v1beta3 and are unknown in v1.
DURATION = "a Go duration string"
LEADER_ELECTION = {
    "leaderElect": bool,
    "leaseDuration": DURATION,
    "renewDeadline": DURATION,
    "retryPeriod": DURATION,
    "resourceLock": str,
    "resourceName": str,
    "resourceNamespace": str,
}
CLIENT_CONNECTION = {
    "kubeconfig": str,
    "acceptContentTypes": str,
    "contentType": str,
    "qps": float,
    "burst": int,
}
PLUGIN_SET = {"enabled": [{"name": str, "weight": int}], "disabled": [{"name": str}]}
STAGES = [
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
    "multiPoint",
]
PROFILE = {
    "schedulerName": str,
    "percentageOfNodesToScore": int,
    "plugins": dict.fromkeys(STAGES, PLUGIN_SET),
    "pluginConfig": [{"name": str, "args": dict}],
}
EXTENDER = {
    "urlPrefix": str,
    "filterVerb": str,
    "preemptVerb": str,
    "prioritizeVerb": str,
    "weight": int,
    "bindVerb": str,
    "enableHTTPS": bool,
    "tlsConfig": {
        "insecure": bool,
        "serverName": str,
        "certFile": str,
        "keyFile": str,
        "caFile": str,
        "certData": str,
        "keyData": str,
        "caData": str,
    },
    "httpTimeout": DURATION,
    "nodeCacheCapable": bool,
    "managedResources": [{"name": str, "ignoredByScheduler": bool}],
    "ignorable": bool,
}
SCHEDULER_CONFIGURATION = {
    "apiVersion": str,
    "kind": str,
    "parallelism": int,
    "leaderElection": LEADER_ELECTION,
    "clientConnection": CLIENT_CONNECTION,
    "enableProfiling": bool,
    "enableContentionProfiling": bool,
    "percentageOfNodesToScore": int,
    "podInitialBackoffSeconds": int,
    "podMaxBackoffSeconds": int,
    "profiles": [PROFILE],
    "extenders": [EXTENDER],
    "delayCacheUntilActive": bool,
}

GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
GO_TERM = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration(text: str) -> float:
    """Seconds in a Go time.ParseDuration string ("5s", "1m30s", "250ms"), which is how
    metav1.Duration decodes; a bare number is not a duration there."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a string")
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    total, position = 0.0, 0
    while position < len(body):
        term = GO_TERM.match(body, position)
        if term is None:
            raise ValueError(f"{text!r} is not a Go duration")
        total += float(term[1]) * GO_UNITS[term[2]]
        position = term.end()
    if not body:
        raise ValueError("empty duration")
    return sign * total


def schema_errors(value, schema, path: str) -> list[str]:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        errors = [f"{path}.{name}: unknown field" for name in value.keys() - schema.keys()]
        for name in value.keys() & schema.keys():
            errors += schema_errors(value[name], schema[name], f"{path}.{name}")
        return errors
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, v in enumerate(value) for e in schema_errors(v, schema[0], f"{path}[{i}]")]
    if schema is DURATION:
        try:
            go_duration(value)
        except ValueError as error:
            return [f"{path}: {error}"]
        return []
    if schema is dict:
        return [] if isinstance(value, dict) else [f"{path}: expected an object"]
    allowed = (int, float) if schema is float else schema
    if isinstance(value, bool) != (schema is bool) or not isinstance(value, allowed):
        return [f"{path}: expected {schema.__name__}, got {value!r}"]
    return []


# IsQualifiedName: an optional DNS-subdomain prefix and a name part.
QUALIFIED_NAME = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)


def scheduler_configuration_errors(config: dict) -> list[str]:
    """kube-scheduler's checks (ValidateKubeSchedulerConfiguration after defaulting, the
    ones that concern fields this file could set), as messages; empty when it would start."""
    errors = schema_errors(config, SCHEDULER_CONFIGURATION, "config")
    if errors:
        return errors
    if config["apiVersion"] != "kubescheduler.config.k8s.io/v1":
        errors.append(f"apiVersion {config['apiVersion']!r}")
    if config["kind"] != "KubeSchedulerConfiguration":
        errors.append(f"kind {config['kind']!r}")
    if config.get("parallelism", 16) <= 0:
        errors.append("parallelism must be greater than zero")
    election = {"leaderElect": True, "resourceLock": "leases"} | config.get("leaderElection", {})
    if election["leaderElect"]:
        if election["resourceLock"] != "leases":
            errors.append('leaderElection.resourceLock must be "leases"')
        durations = {"leaseDuration": "15s", "renewDeadline": "10s", "retryPeriod": "2s"}
        seconds = {k: go_duration(election.get(k, v)) for k, v in durations.items()}
        errors += [f"leaderElection.{k} must be > 0" for k, v in seconds.items() if v <= 0]
        if seconds["leaseDuration"] <= seconds["renewDeadline"]:
            errors.append("leaderElection.leaseDuration must be greater than renewDeadline")
    # Defaulting names a lone profile default-scheduler; with several, each needs a name.
    profiles = config.get("profiles") or [{}]
    names = [profile.get("schedulerName", "") for profile in profiles]
    if len(profiles) == 1 and "schedulerName" not in profiles[0]:
        names = ["default-scheduler"]
    errors += [f"profiles[{i}].schedulerName is required" for i, n in enumerate(names) if not n]
    if len(set(names)) != len(names):
        errors.append("profiles: duplicate schedulerName")
    percentages = [config.get("percentageOfNodesToScore", 0)]
    percentages += [profile.get("percentageOfNodesToScore", 0) for profile in profiles]
    if any(not 0 <= p <= 100 for p in percentages):
        errors.append("percentageOfNodesToScore not in valid range [0-100]")
    initial = config.get("podInitialBackoffSeconds", 1)
    if initial <= 0:
        errors.append("podInitialBackoffSeconds must be greater than 0")
    if config.get("podMaxBackoffSeconds", 10) < initial:
        errors.append("podMaxBackoffSeconds must be >= podInitialBackoffSeconds")
    return errors + extender_errors(config.get("extenders", []))


def extender_errors(extenders: list[dict]) -> list[str]:
    """validateExtenders: a weight with a prioritize verb, one binder at most, managed
    resources that are distinct extended-resource names."""
    errors = []
    managed: set[str] = set()
    for i, extender in enumerate(extenders):
        if extender.get("prioritizeVerb") and extender.get("weight", 0) <= 0:
            errors.append(f"extenders[{i}].weight must be positive with a prioritizeVerb")
        for resource in extender.get("managedResources", []):
            name = resource["name"]
            if not QUALIFIED_NAME.fullmatch(name) or "/" not in name or "kubernetes.io/" in name:
                errors.append(f"extenders[{i}]: {name!r} is not an extended resource name")
            if name in managed:
                errors.append(f"extenders[{i}]: duplicate managed resource {name!r}")
            managed.add(name)
    if sum(bool(extender.get("bindVerb")) for extender in extenders) > 1:
        errors.append("extenders: only one extender can implement bind")
    return errors


def scheduler_configuration(objects: list[dict]) -> dict:
    configmap = find(objects, "ConfigMap", "qsched-scheduler-config")
    return yaml.safe_load(configmap["data"]["config.yaml"])


@pytest.mark.parametrize("with_bind", [False, True], ids=["base", "bind"])
def test_the_scheduler_configuration_is_valid(with_bind):
    assert scheduler_configuration_errors(scheduler_configuration(render(with_bind))) == []


MISTAKES = {
    "a removed field": lambda c: c.update(healthzBindAddress="0.0.0.0:10251"),
    "a misspelt extender field": lambda c: c["extenders"][0].update(urlprefix="http://x"),
    "a number for a boolean": lambda c: c["extenders"][0].update(ignorable=1),
    "a prioritize verb without weight": lambda c: c["extenders"][0].pop("weight"),
    "two binders": lambda c: c["extenders"].extend([{"urlPrefix": "a", "bindVerb": "b"}] * 2),
    "a bare number for a timeout": lambda c: c["extenders"][0].update(httpTimeout=5),
    "a timeout with a space": lambda c: c["extenders"][0].update(httpTimeout="5 s"),
    "an unnamed second profile": lambda c: c["profiles"].append({}),
    "an endpoints lock": lambda c: c["leaderElection"].update(resourceLock="endpoints"),
    "a lease shorter than its renewal": lambda c: c["leaderElection"].update(leaseDuration="9s"),
    "a percentage over 100": lambda c: c.update(percentageOfNodesToScore=101),
    "a non-extended managed resource": lambda c: c["extenders"][0].update(
        managedResources=[{"name": "cpu"}]
    ),
    "the wrong version": lambda c: c.update(apiVersion="kubescheduler.config.k8s.io/v1beta3"),
}


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_the_validator_rejects(base, mistake):
    config = copy.deepcopy(scheduler_configuration(base))
    mistake(config)
    assert scheduler_configuration_errors(config)


@pytest.mark.parametrize(
    ("text", "seconds"), [("5s", 5), ("1m30s", 90), ("250ms", 0.25), ("1.5h", 5400), ("0", 0)]
)
def test_go_durations(text, seconds):
    assert go_duration(text) == pytest.approx(seconds)


def container(objects: list[dict], name: str) -> dict:
    deployment = find(objects, "Deployment", "qsched-scheduler")
    (match,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    ]
    return match


def option(args: list[str], flag: str) -> str:
    """The value of ``--flag VALUE`` or ``--flag=VALUE``."""
    for i, arg in enumerate(args):
        if arg == flag:
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    raise KeyError(flag)


def port(address: str) -> int:
    return int(address.rpartition(":")[2])


def test_the_scheduler_is_a_second_scheduler_calling_its_sidecar(base):
    config = scheduler_configuration(base)
    assert [profile["schedulerName"] for profile in config["profiles"]] == ["qsched"]
    election = config["leaderElection"]
    assert election["leaderElect"] is True
    assert (election["resourceName"], election["resourceNamespace"]) == (
        "qsched-scheduler",
        NAMESPACE,
    )
    leader_role = [
        r for r in base if r["kind"] == "Role" and r["metadata"]["namespace"] == NAMESPACE
    ]
    for verb in ("get", "update", "create"):
        assert grants(leader_role, "coordination.k8s.io", "leases", verb, election["resourceName"])

    (extender,) = config["extenders"]
    args = container(base, "extender")["args"]
    assert args[0] == "extender"
    url = urlsplit(extender["urlPrefix"])
    assert url.scheme == "http" and extender["enableHTTPS"] is False
    # The scheduler reaches the sidecar over the pod's loopback, on the port it listens on.
    assert url.hostname == "127.0.0.1"
    assert url.port == port(option(args, "--listen"))
    assert url.path == option(args, "--prefix")
    verbs = ("filterVerb", "prioritizeVerb", "preemptVerb")
    assert [extender[verb] for verb in verbs] == ["filter", "prioritize", "preempt"]
    assert extender["weight"] > 0
    assert 0 < go_duration(extender["httpTimeout"]) <= 30
    assert extender["ignorable"] is True and extender["nodeCacheCapable"] is True


def test_the_scheduler_reads_the_mounted_configuration(base):
    scheduler = container(base, "kube-scheduler")
    path = Path(option(scheduler["command"], "--config"))
    (mount,) = [m for m in scheduler["volumeMounts"] if Path(m["mountPath"]) == path.parent]
    spec = find(base, "Deployment", "qsched-scheduler")["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    configmap = find(base, "ConfigMap", volume["configMap"]["name"])
    assert path.name in configmap["data"]
    # Match the kube-scheduler to the cluster, and the checks above to the scheduler.
    assert re.fullmatch(r"registry\.k8s\.io/kube-scheduler:v1\.34\.\d+", scheduler["image"])


# --- The bind component ----------------------------------------------------------------------


def binding_parts(objects: list[dict]) -> tuple[list[str], bool, bool]:
    """Bind verbs in the scheduler configuration, --bind on the extender, and whether a
    role defined here lets the service account create pods/binding."""
    verbs = [
        e["bindVerb"] for e in scheduler_configuration(objects)["extenders"] if "bindVerb" in e
    ]
    return (
        verbs,
        "--bind" in container(objects, "extender")["args"],
        grants(objects, "", "pods/binding", "create"),
    )


def test_without_the_bind_component_nothing_binds(base):
    assert binding_parts(base) == ([], False, False)


def test_the_bind_component_turns_on_binding_and_nothing_else(base, bound):
    assert binding_parts(bound) == (["bind"], True, True)
    config = scheduler_configuration(bound)
    del config["extenders"][0]["bindVerb"]
    assert config == scheduler_configuration(base)
    assert container(bound, "extender")["args"] == container(base, "extender")["args"] + ["--bind"]
    added = {key(obj) for obj in bound} - {key(obj) for obj in base}
    assert added == {key(obj) for obj in resources(BIND)}


def test_the_bind_patch_refuses_a_reordered_pod(base):
    deployment = copy.deepcopy(find(base, "Deployment", "qsched-scheduler"))
    deployment["spec"]["template"]["spec"]["containers"].reverse()
    (operations,) = load(BIND / "extender-bind.yaml")
    with pytest.raises(ValueError, match="test failed"):
        apply_json_patch(deployment, operations)


def kubectl_kustomize(directory: Path) -> list[dict]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed"
)
def test_kustomize_renders_what_these_tests_check(tmp_path, base, bound):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    # kustomize takes only relative paths to other kustomizations.
    relative = Path(*[".."] * len(overlay.parts[1:])) / DEPLOY.relative_to("/")
    (overlay / "kustomization.yaml").write_text(
        json.dumps(
            {"resources": [str(relative)], "components": [str(relative / "components/bind")]}
        )
    )
    for rendered, expected in (
        (kubectl_kustomize(DEPLOY), base),
        (kubectl_kustomize(overlay), bound),
    ):
        assert sorted(rendered, key=key) == sorted(expected, key=key)


# --- The pod ----------------------------------------------------------------------------------


def test_the_pod_is_locked_down(base):
    spec = find(base, "Deployment", "qsched-scheduler")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == SERVICE_ACCOUNT
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for each in spec["containers"]:
        security = each["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, each["name"]
        assert security["readOnlyRootFilesystem"] is True, each["name"]
        assert security["capabilities"] == {"drop": ["ALL"]}, each["name"]
        assert {"cpu", "memory"} <= each["resources"]["requests"].keys(), each["name"]
        assert "memory" in each["resources"]["limits"], each["name"]
        ports = {port["name"]: port["containerPort"] for port in each["ports"]}
        assert {"livenessProbe", "readinessProbe"} <= each.keys(), each["name"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in each:
                assert each[probe]["httpGet"]["port"] in ports, (each["name"], probe)


def test_probes_ask_the_right_endpoints(base):
    scheduler, extender = container(base, "kube-scheduler"), container(base, "extender")
    assert scheduler["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert scheduler["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert {p["containerPort"] for p in scheduler["ports"]} == {10259}
    assert extender["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert extender["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {p["containerPort"] for p in extender["ports"]} == {
        port(option(extender["args"], "--listen"))
    }


def test_the_service_and_network_policy_select_the_pod(base):
    template = find(base, "Deployment", "qsched-scheduler")["spec"]["template"]
    labels = template["metadata"]["labels"]
    port_names = {p["name"] for c in template["spec"]["containers"] for p in c["ports"]}
    service = find(base, "Service", "qsched-extender")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names
    policy = find(base, "NetworkPolicy", "qsched-scheduler")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    allowed = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert {port["port"] for port in service["spec"]["ports"]} <= allowed


def test_the_deployment_runs_the_image_kustomize_sets(base):
    (image,) = kustomization(DEPLOY)["images"]
    assert container(base, "extender")["image"] == f"{image['name']}:{image['newTag']}"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert image["newTag"] == version


# --- The image ------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """deploy/Dockerfile as (INSTRUCTION, arguments) per stage, continuations joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(arguments.split())))
    return stages


def instructions(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


def test_the_image_installs_the_locked_dependencies_only():
    runs = [run for stage in dockerfile_stages() for run in instructions(stage, "RUN")]
    installs = [shlex.split(run) for run in runs if "pip install" in run]
    assert installs
    for words in installs:
        assert "--no-deps" in words, words
        assert "-e" not in words and "--editable" not in words, words
    (locked,) = [words for words in installs if "requirements.lock" in words]
    assert "--require-hashes" in locked and locked[locked.index("-r") + 1] == "requirements.lock"
    copies = [arguments.split() for arguments in instructions(dockerfile_stages()[0], "COPY")]
    assert ["deploy/requirements.lock", "./requirements.lock"] in copies
    assert any("." in words for words in installs), "qsched itself is not installed"


def test_the_image_has_every_package_directory():
    """A folder setup.py maps into the package must be copied in, and not ignored."""
    build = dockerfile_stages()[0]
    copied = {path for arguments in instructions(build, "COPY") for path in arguments.split()[:-1]}
    needed = set(build_inputs())
    assert needed <= copied
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line]
    for path in needed:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), path


def _pins(lock: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """A uv lock file's pins: name -> (version, hashes)."""
    pins = {}
    for block in re.split(r"\n(?=[a-z0-9])", lock.read_text()):
        if match := re.match(r"([a-z0-9][a-z0-9._-]*)==(\S+)", block):
            pins[match[1]] = (match[2], frozenset(re.findall(r"--hash=(\S+)", block)))
    return pins


def test_the_image_lock_is_the_runtime_part_of_the_development_lock():
    """deploy/requirements.lock: pyproject's dependencies without the extras, each pinned to
    the version and hashes of requirements.lock (`make lock` writes both)."""
    runtime, development = _pins(DEPLOY / "requirements.lock"), _pins(ROOT / "requirements.lock")
    assert runtime and all(development.get(name) == pin for name, pin in runtime.items())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def name(requirement: str) -> str:
        return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")

    assert {name(r) for r in project["dependencies"]} <= set(runtime)
    # The extras' tools (reports, Ray, tests, lint, docs) stay out of the image.
    assert not {"matplotlib", "ray", "pytest", "mypy", "ruff", "mkdocs"} & set(runtime)


def test_the_image_runs_qsched_as_a_numeric_non_root_user(base):
    stages = dockerfile_stages()
    assert [instructions(stage, "FROM")[0].split()[0] for stage in stages] == [
        "python:3.11-slim"
    ] * len(stages)
    final = stages[-1]
    user = instructions(final, "USER")[-1]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), user
    assert (
        int(user.split(":")[0])
        == find(base, "Deployment", "qsched-scheduler")["spec"]["template"]["spec"][
            "securityContext"
        ]["runAsUser"]
    )
    # Nothing is built in the final stage: it copies the build stage's environment.
    assert not any("install" in run for run in instructions(final, "RUN"))
    assert instructions(final, "COPY") == ["--from=build /opt/qsched /opt/qsched"]
    assert json.loads(instructions(final, "ENTRYPOINT")[-1]) == ["qsched"]
    command = json.loads(instructions(final, "CMD")[-1])
    assert command[0] == "serve"
    exposed = {int(port) for ports in instructions(final, "EXPOSE") for port in ports.split()}
    listen = option(container(base, "extender")["args"], "--listen")
    assert exposed == {port(option(command, "--listen")), port(listen)}


def test_numba_caches_where_the_pod_can_write(base):
    env = " ".join(instructions(dockerfile_stages()[-1], "ENV"))
    cache = Path(re.search(r"NUMBA_CACHE_DIR=(\S+)", env)[1])
    spec = find(base, "Deployment", "qsched-scheduler")["spec"]["template"]["spec"]
    scratch = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    mounts = container(base, "extender")["volumeMounts"]
    writable = {Path(m["mountPath"]) for m in mounts if m["name"] in scratch}
    assert any(mount in cache.parents for mount in writable), cache


def test_the_image_checks_its_health_with_qsched_health():
    (check,) = instructions(dockerfile_stages()[-1], "HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + len("CMD") :].strip())
    assert command[:2] == ["qsched", "health"]
