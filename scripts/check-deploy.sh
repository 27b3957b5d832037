#!/usr/bin/env bash
# Checks what deploy/ ships, with what runs on this machine (no Docker engine, no Kubernetes
# cluster): `make test` runs it after the build.
#
#   - the systemd units: `systemd-analyze verify` (against the built binary);
#   - the Kubernetes manifests: rendered with `kubectl kustomize`, the standard kinds validated
#     strictly against Kubernetes' schemas (kubernetes-validate, from PyPI), CloudNativePG's
#     kinds checked for the fields this deployment relies on;
#   - the compose file: against the Compose specification's JSON schema, and its structure
#     (secrets, volumes, dependencies, files it mounts);
#   - the Keycloak realm: valid JSON.
# A tool this machine lacks is reported as SKIPPED, never as passed.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${SPONA_BIN:-$PWD/.build/debug/spona}"
failed=0

units=$(mktemp -d)
trap 'rm -rf "$units"' EXIT
for unit in deploy/*.service; do sed "s|/usr/local/bin/spona|$binary|g" "$unit" >"$units/$(basename "$unit")"; done
if command -v systemd-analyze >/dev/null; then
    if SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify "$units"/*.service; then echo "deploy: systemd units verified"; else failed=1; fi
else
    echo "deploy: SKIPPED systemd units (no systemd-analyze)"
fi

if command -v kubectl >/dev/null; then
    kubectl kustomize deploy/k8s >"$units/k8s.yaml"
    if ! python3 -c "import kubernetes_validate" 2>/dev/null; then
        pip install --quiet --disable-pip-version-check kubernetes-validate >/dev/null 2>&1 || true
    fi
    if command -v kubernetes-validate >/dev/null; then
        # CloudNativePG's kinds have no schema there (checked below); anything else said is wrong.
        said=$(kubernetes-validate --strict --quiet "$units/k8s.yaml" 2>&1 |
            grep -v "Couldn't find schema for kind \(Cluster\|ScheduledBackup\) with api version postgresql.cnpg.io" || true)
        if [ -n "$said" ]; then
            echo "$said"
            failed=1
        else
            echo "deploy: Kubernetes manifests valid (strict)"
        fi
    else
        echo "deploy: SKIPPED strict Kubernetes validation (kubernetes-validate could not be installed)"
    fi
else
    echo "deploy: SKIPPED Kubernetes manifests (no kubectl)"
fi

# The compose file against the Compose specification's JSON schema (as docker-compose 1.29
# ships it: the wheel is downloaded once into .data/tools, never installed).
spec=.data/tools/compose_spec.json
if [ ! -s "$spec" ]; then
    mkdir -p .data/tools
    if pip download --quiet --disable-pip-version-check --no-deps docker-compose==1.29.2 -d "$units/wheel" >/dev/null 2>&1; then
        python3 -c "import sys, zipfile, glob; zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0]).extract('compose/config/compose_spec.json', sys.argv[1])" "$units/wheel" &&
            cp "$units/wheel/compose/config/compose_spec.json" "$spec"
    fi
fi
if [ -s "$spec" ] && python3 -c "import jsonschema" 2>/dev/null; then
    if python3 - "$spec" <<'PY'
import json, sys, yaml, jsonschema
errors = list(jsonschema.Draft7Validator(json.load(open(sys.argv[1]))).iter_errors(yaml.safe_load(open("deploy/compose.yaml"))))
for error in errors: print("deploy: compose.yaml", list(error.path), error.message[:200])
sys.exit(1 if errors else 0)
PY
    then echo "deploy: compose.yaml valid against the Compose specification's schema"; else failed=1; fi
else
    echo "deploy: SKIPPED the Compose schema (it could not be downloaded, or no jsonschema)"
fi

python3 - "$units/k8s.yaml" <<'PY' || failed=1
import json, os, sys, yaml

problems = []

# CloudNativePG: what the deployment's promises rest on.
if os.path.exists(sys.argv[1]):
    docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    clusters = [d for d in docs if d["kind"] == "Cluster"]
    if len(clusters) != 1:
        problems.append("k8s: expected one CloudNativePG Cluster")
    else:
        spec = clusters[0]["spec"]
        if spec.get("instances", 0) < 3: problems.append("k8s: the Cluster needs 3 instances")
        sync = spec.get("postgresql", {}).get("synchronous", {})
        if sync.get("number", 0) < 1 or sync.get("dataDurability") != "required":
            problems.append("k8s: synchronous replication with dataDurability: required, or a failover may lose acknowledged events")
        if "barmanObjectStore" not in spec.get("backup", {}): problems.append("k8s: no WAL archive")
        roles = {r["name"]: r for r in spec.get("managed", {}).get("roles", [])}
        if "spona_app" not in roles.get("spona_server", {}).get("inRoles", []):
            problems.append("k8s: the server's login must be a member of spona_app")
    if not any(d["kind"] == "ScheduledBackup" for d in docs): problems.append("k8s: no scheduled base backup")
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            pod = d["spec"]["template"]["spec"]
            for c in pod["containers"]:
                sc = c.get("securityContext", {})
                if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation", True):
                    problems.append(f"k8s: {d['metadata']['name']}: read-only root, no privilege escalation")
            if not pod.get("securityContext", {}).get("runAsNonRoot"): problems.append(f"k8s: {d['metadata']['name']}: runAsNonRoot")
    text = open(sys.argv[1]).read()
    if "sslmode=verify-full" not in text or "sslmode=disable" in text:
        problems.append("k8s: database connections must verify the cluster's certificate (sslmode=verify-full)")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    if deployment["spec"]["replicas"] < 2: problems.append("k8s: 2 or more replicas")

# Compose.
compose = yaml.safe_load(open("deploy/compose.yaml"))
declared = set(compose.get("secrets", {}))
for name, service in compose["services"].items():
    if "image" not in service: problems.append(f"compose: {name} has no image")
    for secret in service.get("secrets", []):
        if secret not in declared: problems.append(f"compose: {name} uses undeclared secret {secret}")
    for dependency, how in (service.get("depends_on") or {}).items():
        if dependency not in compose["services"]: problems.append(f"compose: {name} depends on unknown {dependency}")
        if how.get("condition") not in ("service_started", "service_healthy", "service_completed_successfully"):
            problems.append(f"compose: {name}: unknown condition {how.get('condition')}")
    for value in (service.get("environment") or {}).values():
        if not isinstance(value, str): problems.append(f"compose: {name}: environment values are strings ({value!r})")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            if not os.path.exists(os.path.join("deploy", source)): problems.append(f"compose: {name} mounts missing {source}")
        elif source not in compose.get("volumes", {}):
            problems.append(f"compose: {name} uses undeclared volume {source}")
    env = service.get("environment") or {}
    if name == "spona" and any("owner" in str(v) for v in env.values()): problems.append("compose: the server must not hold the owner's login")
build = compose["services"]["migrate"].get("build", {})
if build and not os.path.exists(os.path.join("deploy", build["context"], build["dockerfile"])):
    problems.append("compose: the Dockerfile it builds is missing")

json.load(open("deploy/keycloak/spona-realm.json"))

for p in problems: print("deploy:", p)
if problems: sys.exit(1)
print("deploy: Kubernetes promises, compose structure and the Keycloak realm checked")
PY

exit $failed
