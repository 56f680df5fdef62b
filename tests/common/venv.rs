//! Python venvs for the third-party clients and servers tests talk to; kept
//! free of other dependencies so crate tests can include it by path.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The python of the venv `provindex-NAME-venv` under the temporary
/// directory, holding `packages`; ready once `import MODULES` works. It is
/// built under a unique name and renamed into place, so parallel tests never
/// see a half-made one (the loser of the rename race removes its copy). Run
/// its tools as `python -m …`: a venv's scripts name the path it was built at.
pub fn venv_python(name: &str, packages: &[&str], modules: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("provindex-{name}-venv"));
    let python = dir.join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", &format!("import {modules}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return python;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let building = std::env::temp_dir().join(format!(
        "provindex-{name}-venv.{}.{nanos}",
        std::process::id()
    ));
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&building)
        .status();
    assert!(made.is_ok_and(|s| s.success()), "python3 -m venv failed");
    let out = Command::new(building.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet"])
        .args(packages)
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "pip install {packages:?} failed (is PyPI reachable?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if ready(&python) || std::fs::rename(&building, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    assert!(ready(&python), "no usable {name} venv at {}", dir.display());
    python
}
