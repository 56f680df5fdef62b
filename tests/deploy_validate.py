"""Checks that deploy/ would start: run by tests/e2e_deploy_manifests.rs.

    python deploy_validate.py --deploy DIR --kubectl KUBECTL --provindex BIN

1. `kubectl kustomize DIR/k8s` renders the manifests (kustomize as kubectl
   ships it: namespace, generators with hashed names, images).
2. Every rendered object is validated against the Kubernetes JSON schemas
   shipped in the kubernetes-validate package (strict: unknown fields fail).
3. DIR/compose.yaml is validated against the Compose Specification schema
   vendored in check-jsonschema.
4. What no schema says: pods run as the image's user with no privileges,
   containers have requests and limits, serving containers have gRPC probes
   on ports they declare, every name a pod refers to (ConfigMap, Secret,
   `$(VAR)`, `http://service:port`) exists, the coordinator is reachable
   only through a ClusterIP Service behind a NetworkPolicy, and every
   command line names a real subcommand and flags of the built binary.

Prints one line per problem and exits 1 if there is any.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

# Roles and flags being implemented for issue 17 at the time of writing:
# tolerated while the binary does not have them yet, checked as soon as it
# does (remove an entry once it lands).
PENDING_SUBCOMMANDS = {"router", "registry-server"}
PENDING_FLAGS = {("serve", "--partitions"), ("serve", "--registry-url"), ("index", "--index-partitions")}

K8S_VERSION = "1.37.0"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}

problems = []
notes = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def image_user(dockerfile):
    """The uid and gid the image's last stage runs as (`USER uid:gid`)."""
    text = dockerfile.read_text()
    stages = re.split(r"(?m)^FROM\s", text)
    final = stages[-1]
    users = re.findall(r"(?m)^USER\s+(\S+)", final)
    if not users:
        problem(dockerfile, "the final stage has no USER (the image would run as root)")
        return None, None
    user = users[-1]
    match = re.fullmatch(r"(\d+):(\d+)", user)
    if not match:
        problem(dockerfile, f"USER {user}: use numeric uid:gid so runAsNonRoot can verify it")
        return None, None
    uid, gid = int(match.group(1)), int(match.group(2))
    if uid == 0:
        problem(dockerfile, "USER is root")
    if not re.search(rf"useradd\b[^\n]*--uid {uid}\b", final):
        problem(dockerfile, f"no user with uid {uid} is created in the final stage")
    build = "".join(stages[:-1])
    if not re.search(r"\b(strip|objcopy --strip-debug|objcopy --strip-all)\b[^\n]*provindex", build):
        problem(dockerfile, "the build stage does not strip the provindex binary")
    return uid, gid


class Binary:
    """`provindex SUB --help`, cached: which subcommands and flags exist."""

    def __init__(self, path):
        self.path = path
        self.cache = {}

    def flags(self, sub):
        if sub not in self.cache:
            out = subprocess.run([self.path, sub, "--help"], capture_output=True, text=True)
            if out.returncode != 0:
                self.cache[sub] = None
            else:
                self.cache[sub] = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out.stdout))
        return self.cache[sub]


def check_command(where, args, binary):
    """args: the container's arguments after the binary (subcommand first)."""
    if not args:
        problem(where, "no subcommand (the image's entrypoint is the provindex binary)")
        return
    sub = args[0]
    known = binary.flags(sub)
    if known is None:
        if sub in PENDING_SUBCOMMANDS:
            notes.append(f"{where}: `provindex {sub}` is not in this binary yet (issue 17); flags not checked")
        else:
            problem(where, f"`provindex {sub} --help` fails: no such subcommand")
        return
    for arg in args[1:]:
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        if flag in known:
            continue
        if (sub, flag) in PENDING_FLAGS:
            notes.append(f"{where}: `provindex {sub} {flag}` is not in this binary yet (issue 17)")
        else:
            problem(where, f"`provindex {sub}` has no flag {flag}")


def quantity(value):
    """A Kubernetes quantity as a number (bytes or cores)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 1e-3,
             "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    if not match or (match.group(2) and match.group(2) not in units):
        raise ValueError(f"bad quantity {value!r}")
    return float(match.group(1)) * units.get(match.group(2), 1)


def urls_in(args):
    return re.findall(r"https?://([a-z0-9.-]+):(\d+)", " ".join(args))


def validate_k8s(docs, binary, uid, gid):
    import kubernetes_validate

    by_kind = {}
    before = len(problems)
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            problem(where, f"schema ({K8S_VERSION}, strict): {path}: {e.message}")
        except Exception as e:  # an unknown kind or apiVersion
            problem(where, f"schema ({K8S_VERSION}): {getattr(e, 'message', e)}")
        by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = doc

    if len(problems) > before:
        notes.append("Kubernetes objects fail their schemas: the other checks were not run")
        return
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    services = by_kind.get("Service", {})
    pvcs = set(by_kind.get("PersistentVolumeClaim", {}))
    pods = []  # (where, template, controller)
    for kind in POD_KINDS:
        for name, doc in by_kind.get(kind, {}).items():
            pods.append((f"{kind}/{name}", doc["spec"]["template"], doc))

    if not pods:
        problem("render", "no workloads rendered")
    for where, template, controller in pods:
        spec = template["spec"]
        ctx = spec.get("securityContext", {})
        for field, want in (("runAsUser", uid), ("runAsGroup", gid), ("fsGroup", gid)):
            if want is not None and ctx.get(field) != want:
                problem(where, f"securityContext.{field} is {ctx.get(field)}, the image's is {want}")
        if ctx.get("runAsNonRoot") is not True:
            problem(where, "securityContext.runAsNonRoot is not true")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for claim in controller["spec"].get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"claim": True}
        for name, volume in volumes.items():
            ref = volume.get("persistentVolumeClaim", {}).get("claimName")
            if ref and ref not in pvcs:
                problem(where, f"volume {name}: no PersistentVolumeClaim {ref}")
            ref = volume.get("secret", {}).get("secretName")
            if ref and ref not in secrets:
                problem(where, f"volume {name}: no Secret {ref}")
            ref = volume.get("configMap", {}).get("name")
            if ref and ref not in configmaps:
                problem(where, f"volume {name}: no ConfigMap {ref}")
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            cw = f"{where} container {c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                problem(cw, "allowPrivilegeEscalation is not false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problem(cw, "capabilities do not drop ALL")
            if sc.get("readOnlyRootFilesystem") is not True:
                notes.append(f"{cw}: root filesystem writable")
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(kind, {}):
                        problem(cw, f"no resources.{kind}.{r}")
            for r, lim in res.get("limits", {}).items():
                req = res.get("requests", {}).get(r)
                if req is not None and quantity(req) > quantity(lim):
                    problem(cw, f"{r} request {req} exceeds its limit {lim}")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problem(cw, f"volumeMount {m['name']} names no volume")
            # Environment: what $(VAR) in the arguments can expand to.
            env = set()
            for e in c.get("env", []):
                env.add(e["name"])
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref and (ref["name"] not in configmaps
                            or ref["key"] not in configmaps[ref["name"]].get("data", {})):
                    problem(cw, f"env {e['name']}: no key {ref['key']} in ConfigMap {ref['name']}")
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in secrets:
                    problem(cw, f"env {e['name']}: no Secret {ref['name']}")
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    name = source["configMapRef"]["name"]
                    if name not in configmaps:
                        problem(cw, f"envFrom: no ConfigMap {name}")
                    else:
                        env |= set(configmaps[name].get("data", {}))
                if "secretRef" in source:
                    name = source["secretRef"]["name"]
                    if name not in secrets:
                        problem(cw, f"envFrom: no Secret {name}")
                    else:
                        env |= set(secrets[name].get("data", {}))
            args = c.get("command", [])[1:] if c.get("command") else c.get("args", [])
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", " ".join(args)):
                if var not in env:
                    problem(cw, f"$({var}) in the arguments is not in the container's environment")
            check_command(cw, args, binary)
            for host, port in urls_in(args):
                svc = services.get(host)
                if svc is None:
                    problem(cw, f"http://{host}:{port}: no Service {host}")
                elif int(port) not in [p["port"] for p in svc["spec"]["ports"]]:
                    problem(cw, f"http://{host}:{port}: Service {host} has no port {port}")
            # Probes: a container that listens on a gRPC port is probed there.
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe in c and "grpc" in c[probe]:
                    port = c[probe]["grpc"]["port"]
                    if port not in ports.values():
                        problem(cw, f"{probe} on port {port}, which the container does not declare")
            if "grpc" in ports:
                for probe in ("readinessProbe", "livenessProbe"):
                    if c.get(probe, {}).get("grpc", {}).get("port") != ports["grpc"]:
                        problem(cw, f"serves gRPC on {ports['grpc']} but has no gRPC {probe} there")

    # Services select pods that exist and name ports those pods declare.
    for name, svc in services.items():
        selector = svc["spec"].get("selector", {})
        matched = [(w, t) for w, t, _ in pods
                   if selector and selector.items() <= t["metadata"].get("labels", {}).items()]
        if not matched:
            problem(f"Service/{name}", f"selector {selector} matches no pod template")
        for p in svc["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            for w, t in matched:
                declared = [(q.get("name"), q["containerPort"]) for c in t["spec"]["containers"]
                            for q in c.get("ports", [])]
                if not any(target in pair for pair in declared):
                    problem(f"Service/{name}", f"targetPort {target} is not a port of {w}")

    # The coordinator has no authentication: ClusterIP only, and ingress
    # only from pods labelled as its clients.
    coordinator = services.get("coordinator")
    if coordinator is None:
        problem("Service/coordinator", "missing")
    else:
        kind = coordinator["spec"].get("type", "ClusterIP")
        if kind != "ClusterIP":
            problem("Service/coordinator", f"type {kind}: the coordinator must not be exposed outside the cluster")
        coord_labels = coordinator["spec"]["selector"]
        guards = [np for np in by_kind.get("NetworkPolicy", {}).values()
                  if np["spec"]["podSelector"].get("matchLabels", {}).items() <= coord_labels.items()
                  and "Ingress" in np["spec"].get("policyTypes", ["Ingress"])]
        if not guards:
            problem("Service/coordinator", "no NetworkPolicy restricts ingress to the coordinator")
        for np in guards:
            for rule in np["spec"].get("ingress", []):
                peers = rule.get("from")
                if not peers:
                    problem(f"NetworkPolicy/{np['metadata']['name']}", "an ingress rule admits every source")
                    continue
                for peer in peers:
                    if "ipBlock" in peer or "namespaceSelector" in peer or "podSelector" not in peer:
                        problem(f"NetworkPolicy/{np['metadata']['name']}",
                                f"admits {peer}: only pods of this namespace should reach the coordinator")
                        continue
                    want = peer["podSelector"].get("matchLabels", {})
                    if not want:
                        problem(f"NetworkPolicy/{np['metadata']['name']}", "admits every pod of the namespace")
                        continue
                    admitted = {w for w, t, _ in pods if want.items() <= t["metadata"].get("labels", {}).items()}
                    for w in admitted:
                        if not (w.startswith("Deployment/worker") or w.startswith("Job/")):
                            problem(f"NetworkPolicy/{np['metadata']['name']}", f"admits {w}, not a worker or a build Job")
        def admitted_by_guard(labels):
            return any(peer.get("podSelector", {}).get("matchLabels", {}).items() <= labels.items()
                       for np in guards for rule in np["spec"].get("ingress", [])
                       for peer in rule.get("from", []) if "podSelector" in peer)

        clients = []
        for w, t, _ in pods:
            if any(h == "coordinator" for c in t["spec"]["containers"] for h, _ in urls_in(c.get("args", []))):
                clients.append(w)
                if guards and not admitted_by_guard(t["metadata"].get("labels", {})):
                    problem(w, "dials the coordinator but no NetworkPolicy admits it")
        if not clients:
            problem("Service/coordinator", "no pod dials the coordinator")

    # The worker's memory fits the build's 512 MB goal.
    for w, t, _ in pods:
        for c in t["spec"]["containers"]:
            if c.get("args", [None])[0] == "worker":
                limit = c.get("resources", {}).get("limits", {}).get("memory")
                if limit and quantity(limit) < 512 * 2**20:
                    problem(f"{w} container {c['name']}", f"memory limit {limit} is below the build's 512 MiB")

    # One registry writer.
    for w, t, controller in pods:
        for c in t["spec"]["containers"]:
            if c.get("args", [None])[0] == "registry-server" and controller["spec"].get("replicas", 1) != 1:
                problem(w, "the registry has one writer: replicas must be 1")


def validate_compose(path, binary, uid, gid):
    import check_jsonschema
    import jsonschema

    schema_file = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text())
    doc = yaml.safe_load(path.read_text())
    where = str(path)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    for e in errors:
        problem(where, f"compose schema: {'/'.join(map(str, e.path))}: {e.message}")
    if errors:
        return
    services = doc.get("services", {}) if isinstance(doc, dict) else {}
    if not services:
        problem(where, "no services")
    # Ports each service listens on, from its --listen argument.
    listens = {}
    for name, svc in services.items():
        command = svc.get("command") or []
        if isinstance(command, str):
            command = command.split()
        for i, arg in enumerate(command[:-1]):
            if arg == "--listen":
                listens.setdefault(name, set()).add(command[i + 1].rsplit(":", 1)[-1])
    for name, svc in services.items():
        sw = f"{where} service {name}"
        image = svc.get("image", "")
        if not image.startswith("provindex"):
            continue
        command = svc.get("command") or []
        if isinstance(command, str):
            command = command.split()
        if command:
            check_command(sw, command, binary)
        user = str(svc.get("user", ""))
        if uid is not None and user != f"{uid}:{gid}":
            problem(sw, f"user is {user!r}, the image's is {uid}:{gid}")
        if "ALL" not in svc.get("cap_drop", []):
            problem(sw, "cap_drop does not hold ALL")
        if "no-new-privileges:true" not in svc.get("security_opt", []):
            problem(sw, "security_opt lacks no-new-privileges:true")
        for host, port in urls_in(command):
            if host not in services:
                problem(sw, f"http://{host}:{port}: no service {host}")
            elif port not in listens.get(host, set()):
                problem(sw, f"http://{host}:{port}: service {host} does not listen on {port}")
        if command[:1] == ["coordinator"] and svc.get("ports"):
            problem(sw, "publishes the coordinator's port: it has no authentication")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deploy", type=Path, required=True)
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--provindex", required=True)
    args = parser.parse_args()
    binary = Binary(args.provindex)
    uid, gid = image_user(args.deploy / "Dockerfile")

    rendered = subprocess.run([args.kubectl, "kustomize", str(args.deploy / "k8s")],
                              capture_output=True, text=True)
    if rendered.returncode != 0:
        problem("kubectl kustomize", rendered.stderr.strip())
        docs = []
    else:
        docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
        kinds = {}
        for d in docs:
            kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        print(f"rendered {len(docs)} objects: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        validate_k8s(docs, binary, uid, gid)
    validate_compose(args.deploy / "compose.yaml", binary, uid, gid)

    for n in notes:
        print(f"note: {n}")
    for p in problems:
        print(f"problem: {p}")
    print(f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
