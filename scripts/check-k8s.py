#!/usr/bin/env python3
"""Checks docflow's Kubernetes manifests without a cluster, beyond what the schemas say
(scripts/check-deploy runs kubernetes-validate and yamllint first): every document is a
known kind; every container names an explicit image (a registry and a tag, not `latest`)
and an imagePullPolicy; the ConfigMaps, Secrets, volumes and named ports a pod refers to
exist; probes are on the admin port (7591); DOCFLOW_CONFIG names a file a ConfigMap
mounts; the settings file's keys exist in lib/docflow.default.toml; the Secret's
DOCFLOW__ variables name settings that exist; the commands are docflow's.
Then what went wrong before: every file the settings name (a CA, a key) is mounted in every
container that reads them; no secret is in a ConfigMap, the database URL (its password)
and a gateway with several replicas' session secret come from a Secret; every pod and
container has the restricted security context; every Deployment's pods run `docflow
setup` of their own image in an init container before docflow starts.
Usage: check-k8s.py MANIFEST..."""
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = tomllib.loads((ROOT / "lib/docflow.default.toml").read_text())
DEFAULTS_TEXT = (ROOT / "lib/docflow.default.toml").read_text()
# Provider keys are commented out in the defaults (there is no default provider).
PROVIDER_KEYS = set(re.findall(r"^# (\w+) = ", DEFAULTS_TEXT, re.M))
# Optional settings the defaults describe in comments only (NATS authentication: none by
# default): `#   user = ...` under a table, and commented tables such as `# [nats.tls]`.
COMMENTED_KEYS = {key for line in DEFAULTS_TEXT.splitlines() if line.startswith("#") for key in re.findall(r"(\w+) = ", line)}
COMMENTED_TABLES = {tuple(t.split(".")) for t in re.findall(r"^#\s*\[([\w.]+)\]", DEFAULTS_TEXT, re.M)}
# Secrets the operator makes from files of their own, not in these manifests: the NATS
# server's CA (`kubectl create secret generic nats-ca --from-file=ca.crt=...`).
EXTERNAL_SECRETS = {"nats-ca"}
COMMANDS = {"setup", "run"}
COMPONENTS = {"gateway", "transfer", "validate", "normalize", "watchdog"}
ADMIN_PORT = 7591
# Settings that hold secrets: never in a ConfigMap.
SECRET_KEYS = {"password", "secret_key", "access_key", "api_key", "callback_secret", "token", "tokens", "session_secret"}
# Settings that name a file the process reads.
FILE_KEYS = {"ca_file", "cert_file", "key_file", "creds_file", "nkey_seed_file"}
errors = []


def error(where, what):
    errors.append(f"{where}: {what}")


def setting_exists(path):
    if path[0] == "providers":
        return len(path) <= 2 or (len(path) == 3 and path[2] in PROVIDER_KEYS)
    if any(tuple(path[:-1]) == table for table in COMMENTED_TABLES):
        return path[-1] in COMMENTED_KEYS
    if tuple(path) in COMMENTED_TABLES:
        return True
    node = DEFAULTS
    for i, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            return isinstance(node, dict) and i == len(path) - 1 and key in COMMENTED_KEYS
        node = node[key]
    return True


def walk_settings(table, prefix, where):
    for key, value in table.items():
        path = prefix + [key]
        if not setting_exists(path):
            error(where, f"setting {'.'.join(path)} does not exist (lib/docflow.default.toml)")
        elif isinstance(value, dict):
            walk_settings(value, path, where)


def leaves(table, prefix=()):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from leaves(value, prefix + (key,))
        else:
            yield list(prefix + (key,)), value


documents = []
for manifest in sys.argv[1:]:
    for doc in yaml.safe_load_all(Path(manifest).read_text()):
        if doc:
            documents.append((manifest, doc))
by_kind = {}
for manifest, doc in documents:
    for key in ("apiVersion", "kind", "metadata"):
        if key not in doc:
            error(manifest, f"a document has no {key}")
    by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = doc
known = {"ConfigMap", "Secret", "Job", "Deployment", "Service", "PodDisruptionBudget"}
for kind in by_kind:
    if kind not in known:
        error("manifests", f"unexpected kind {kind}")

configmaps, secrets = by_kind.get("ConfigMap", {}), by_kind.get("Secret", {})
settings_files = {}
for name, cm in configmaps.items():
    for key, text in cm.get("data", {}).items():
        if key.endswith(".toml"):
            settings = tomllib.loads(text)
            settings_files[(name, key)] = settings
            walk_settings(settings, [], f"ConfigMap {name} {key}")
            for path, value in leaves(settings):
                if path[-1] in SECRET_KEYS:
                    error(f"ConfigMap {name} {key}", f"{'.'.join(path)} is a secret: give it in a Secret")
                if path == ["database", "url"] and "@" in str(value).split("//", 1)[-1]:
                    error(f"ConfigMap {name} {key}", "database.url carries credentials: give it in a Secret")
for name, secret in secrets.items():
    for var in secret.get("stringData", {}):
        if var.startswith("DOCFLOW__"):
            path = [part.lower() for part in var[len("DOCFLOW__"):].split("__")]
            if not setting_exists(path):
                error(f"Secret {name}", f"{var} names no setting")

pods = []
for kind in ("Job", "Deployment"):
    for name, obj in by_kind.get(kind, {}).items():
        template = obj["spec"]["template"]
        pods.append((f"{kind} {name}", template, obj["spec"].get("replicas", 1)))
        if kind == "Deployment":
            selector = obj["spec"]["selector"]["matchLabels"]
            labels = template["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in selector.items()):
                error(f"Deployment {name}", "the selector does not match the pod's labels")
        else:
            error(f"Job {name}", "setup runs in the Deployments' init containers: a Job cannot take a new image "
                  "under the same name, and nothing orders it before the Deployments")


def secret_vars(c):
    """The DOCFLOW__ variables container `c` gets from Secrets."""
    found = set()
    for source in c.get("envFrom", []):
        found |= set(secrets.get(source.get("secretRef", {}).get("name"), {}).get("stringData", {}))
    for env in c.get("env", []):
        if "secretKeyRef" in env.get("valueFrom", {}):
            found.add(env["name"])
    return found


def check_security(where, context, keys):
    for key, wanted in keys.items():
        value = context.get(key) if context else None
        if key == "capabilities":
            value = "ALL" in (value or {}).get("drop", [])
        elif key == "seccompProfile":
            value = (value or {}).get("type")
        if value != wanted:
            error(where, f"securityContext.{key} is not {wanted}")


pod_ports = {}
for where, template, replicas in pods:
    spec = template["spec"]
    check_security(f"{where} pod", spec.get("securityContext"), {"runAsNonRoot": True, "seccompProfile": "RuntimeDefault"})
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for volume in volumes.values():
        if "configMap" in volume and volume["configMap"]["name"] not in configmaps:
            error(where, f"volume {volume['name']} names a ConfigMap that does not exist")
        if "secret" in volume and volume["secret"]["secretName"] not in set(secrets) | EXTERNAL_SECRETS:
            error(where, f"volume {volume['name']} names a Secret that does not exist")
    inits = spec.get("initContainers", [])
    images = {c.get("image") for c in spec["containers"]}
    if where.startswith("Deployment") and not any(c.get("args") == ["setup"] and c.get("image") in images for c in inits):
        error(where, "no init container runs `docflow setup` of the pod's image before docflow starts")
    for c in inits + spec["containers"]:
        cw = f"{where} container {c['name']}"
        check_security(cw, c.get("securityContext"), {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                                       "readOnlyRootFilesystem": True, "capabilities": True,
                                                       "seccompProfile": "RuntimeDefault"})
        image = c.get("image", "")
        if not re.fullmatch(r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+", image) or image.endswith(":latest"):
            error(cw, f"image {image!r} is not an explicit registry/name:tag reference")
        if c.get("imagePullPolicy") not in ("IfNotPresent", "Always", "Never"):
            error(cw, "no imagePullPolicy")
        args = c.get("args", [])
        if not args or args[0] not in COMMANDS or any(a not in COMPONENTS for a in args[1:]):
            error(cw, f"args {args} are not a docflow command")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        pod_ports.setdefault(template.get("metadata", {}).get("labels", {}).get("app"), {}).update(ports)
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in c:
                port = c[probe]["httpGet"]["port"]
                number = ports.get(port, port)
                if number != ADMIN_PORT:
                    error(cw, f"{probe} is on port {port}, not the admin port {ADMIN_PORT}")
        if args and args[0] == "run" and "readinessProbe" not in c:
            error(cw, "no readinessProbe")
        for source in c.get("envFrom", []):
            if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                error(cw, "envFrom names a Secret that does not exist")
            if "configMapRef" in source and source["configMapRef"]["name"] not in configmaps:
                error(cw, "envFrom names a ConfigMap that does not exist")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                error(cw, f"mounts volume {m['name']}, which the pod does not have")
        from_secrets = secret_vars(c)
        for env in c.get("env", []):
            if env["name"] != "DOCFLOW_CONFIG":
                continue
            path = Path(env["value"])
            cm_name = volumes.get(mounts.get(str(path.parent)), {}).get("configMap", {}).get("name")
            settings = settings_files.get((cm_name, path.name))
            if settings is None:
                error(cw, f"DOCFLOW_CONFIG={path} is not a file a mounted ConfigMap holds")
                continue
            for key_path, value in leaves(settings):
                if key_path[-1] in FILE_KEYS and not any(str(value).startswith(m.rstrip("/") + "/") for m in mounts):
                    error(cw, f"{'.'.join(key_path)} = {value} is in no volume the container mounts")
            if "DOCFLOW__DATABASE__URL" not in from_secrets:
                error(cw, "the database URL (with its password) does not come from a Secret (DOCFLOW__DATABASE__URL)")
            if "gateway" in args and replicas > 1 and "DOCFLOW__GATEWAY__SESSION_SECRET" not in from_secrets:
                error(cw, f"{replicas} gateway replicas without one gateway.session_secret from a Secret: "
                      "people are signed out whenever a request reaches another pod")

for name, svc in by_kind.get("Service", {}).items():
    app = svc["spec"]["selector"].get("app")
    if app not in pod_ports:
        error(f"Service {name}", f"selects app={app}, which no pod has")
    for port in svc["spec"]["ports"]:
        target = port.get("targetPort")
        if isinstance(target, str) and target not in pod_ports.get(app, {}):
            error(f"Service {name}", f"targetPort {target} is not a port of app={app}")
for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
    if pdb["spec"]["selector"]["matchLabels"].get("app") not in pod_ports:
        error(f"PodDisruptionBudget {name}", "selects no pod")

if errors:
    sys.exit("check-k8s: " + "\ncheck-k8s: ".join(errors))
print(f"check-k8s: {len(documents)} documents in {len(sys.argv) - 1} file(s): explicit images and pull policies, "
      "probes on the admin port, every reference, setting and settings file exists, secrets from Secrets, "
      "restricted security contexts, setup before docflow in every pod")
