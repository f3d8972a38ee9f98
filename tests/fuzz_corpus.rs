//! Replays the committed fuzz seeds through the same checks the fuzz
//! targets run, so every `cargo test` exercises them.

use std::path::Path;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v
}

#[test]
fn protocol_seeds() {
    for (name, data) in corpus("protocol") {
        for seed in 0..8 {
            let r = std::panic::catch_unwind(|| rnats::protocol::replay::check(&data, seed));
            assert!(r.is_ok(), "seed file {name} failed");
        }
    }
}
