//! The model file: round trips, atomic writes, and a loader that trusts nothing.

mod common;

use fraud_engine::{format, Error, Model};

#[test]
fn save_load_round_trip_and_atomic_write() {
    let model = common::small_model(5_000, 10, 1);
    let dir = common::temp_dir("roundtrip");
    let path = dir.join("model.fem");
    model.save(&path).expect("saves");
    let loaded = Model::load(&path).expect("loads");
    assert_eq!(loaded, model);
    assert_eq!(
        loaded.to_bytes().expect("serializes"),
        model.to_bytes().expect("serializes")
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    // Overwriting an existing model is also atomic and leaves one file.
    model.save(&path).expect("overwrites");
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
}

#[test]
fn damaged_files_are_typed_errors() {
    let bytes = common::small_model(3_000, 5, 2)
        .to_bytes()
        .expect("serializes");

    let err = Model::from_bytes(&bytes[..20]).expect_err("truncated header");
    assert!(
        matches!(err, Error::CorruptModel { offset: 20, .. }),
        "{err}"
    );

    let err = Model::from_bytes(&bytes[..bytes.len() - 1]).expect_err("truncated payload");
    assert!(
        matches!(err, Error::CorruptModel { offset: 16, .. }),
        "{err}"
    );

    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(matches!(
        Model::from_bytes(&magic),
        Err(Error::CorruptModel { offset: 0, .. })
    ));

    let mut version = bytes.clone();
    version[8] = 99;
    assert!(matches!(
        Model::from_bytes(&version),
        Err(Error::UnsupportedVersion {
            found: 99,
            supported: fraud_engine::FORMAT_VERSION
        })
    ));

    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert!(matches!(
        Model::from_bytes(&flipped),
        Err(Error::CorruptModel { offset: 24, .. })
    ));

    let mut huge = bytes.clone();
    huge[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let err = Model::from_bytes(&huge).expect_err("oversized claim");
    assert!(err.to_string().contains("exceeds"), "{err}");

    let err = Model::load("/definitely/not/here.fem").expect_err("missing file");
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/definitely/not/here.fem"));
}

/// A payload with a valid checksum but a hostile tree is still rejected.
#[test]
fn hostile_payload_with_valid_checksum_is_rejected() {
    let bytes = common::small_model(3_000, 3, 3)
        .to_bytes()
        .expect("serializes");
    let payload = &bytes[format::HEADER_LEN..];
    let mut rejected = 0;
    // Change one payload byte at a time and re-seal the checksum: every
    // result must load cleanly or fail with a typed error.
    for i in (0..payload.len()).step_by(payload.len() / 400 + 1) {
        let mut body = payload.to_vec();
        body[i] = body[i].wrapping_add(0x81);
        let mut file = bytes[..format::HEADER_LEN].to_vec();
        file[24..28].copy_from_slice(&crc32fast::hash(&body).to_le_bytes());
        file.extend_from_slice(&body);
        if Model::from_bytes(&file).is_err() {
            rejected += 1;
        }
    }
    assert!(rejected > 0);
}
