//! The typed store against a real RocksDB.

use provindex_store::{
    CodecError, ColumnFamilySpec, Durability, KeyCodec, OpenMode, SortedTable, Store, StoreError,
    ValueCodec, define_schema, test_schema_codecs,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word(String);

define_schema!(
    /// u64 (big-endian) → UTF-8 word.
    Words,
    u64,
    Word,
    "words"
);

impl KeyCodec<Words> for u64 {
    fn encode_key(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        <[u8; 8]>::try_from(bytes)
            .map(u64::from_be_bytes)
            .map_err(|_| CodecError::length("key", bytes.len(), 8))
    }
}

impl ValueCodec<Words> for Word {
    fn encode_value(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        std::str::from_utf8(bytes)
            .map(|s| Word(s.to_owned()))
            .map_err(|e| CodecError::new(e.to_string()))
    }
}

/// The same column family seen as raw bytes: writes a value `Words` cannot decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBytes(Vec<u8>);

define_schema!(RawWords, u64, RawBytes, "words");

impl KeyCodec<RawWords> for u64 {
    fn encode_key(&self) -> Vec<u8> {
        <u64 as KeyCodec<Words>>::encode_key(self)
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        <u64 as KeyCodec<Words>>::decode_key(bytes)
    }
}

impl ValueCodec<RawWords> for RawBytes {
    fn encode_value(&self) -> Vec<u8> {
        self.0.clone()
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(RawBytes(bytes.to_vec()))
    }
}

test_schema_codecs!(
    words_codecs,
    Words,
    any::<u64>(),
    "\\PC{0,20}".prop_map(Word)
);

const FAMILIES: [ColumnFamilySpec; 1] = [ColumnFamilySpec {
    name: "words",
    point_lookups: true,
}];

#[test]
fn typed_reads_writes_batches_and_iteration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), &FAMILIES, OpenMode::ReadWrite, 1 << 20).expect("open");
    store
        .put::<Words>(&2, &Word("two".into()), Durability::Synced)
        .expect("put");
    let mut batch = store.batch();
    batch.put::<Words>(&1, &Word("one".into()));
    batch.put::<Words>(&300, &Word("三百".into()));
    store.write(batch, Durability::Unlogged).expect("write");

    assert_eq!(
        store.get::<Words>(&1).expect("get"),
        Some(Word("one".into()))
    );
    assert_eq!(store.get::<Words>(&3).expect("get"), None);
    assert_eq!(
        store.multi_get::<Words>(&[300, 3, 2]).expect("multi_get"),
        vec![Some(Word("三百".into())), None, Some(Word("two".into()))]
    );
    let mut seen = Vec::new();
    store
        .for_each::<Words, StoreError>(|k, v| {
            seen.push((k, v.0));
            Ok(())
        })
        .expect("walk");
    assert_eq!(
        seen,
        vec![(1, "one".into()), (2, "two".into()), (300, "三百".into())]
    );
    let mut iter = store.iter::<Words>().expect("iter");
    iter.seek_for_prev(&299u64.to_be_bytes());
    assert_eq!(iter.key().map(|k| k.expect("key")), Some(2));
}

#[test]
fn a_stored_value_that_does_not_decode_is_a_precise_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), &FAMILIES, OpenMode::ReadWrite, 1 << 20).expect("open");
        store
            .put::<RawWords>(&7, &RawBytes(vec![0xff, 0xfe]), Durability::Synced)
            .expect("put");
    }
    let store = Store::open(dir.path(), &FAMILIES, OpenMode::ReadOnly, 1 << 20).expect("open");
    let error = store.get::<Words>(&7).expect_err("invalid UTF-8 value");
    let text = error.to_string();
    assert!(
        text.contains("corrupt value in column family `words`"),
        "{text}"
    );
    assert!(text.contains("invalid utf-8"), "{text}");
}

#[test]
fn sorted_tables_are_ingested_in_key_order_once_per_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    let store = Store::open(&db, &FAMILIES, OpenMode::ReadWrite, 1 << 20).expect("open");
    // A budget small enough to spill several runs.
    let mut table = SortedTable::<Words>::new(&dir.path().join("staging"), 64);
    for k in (0..100u64).rev() {
        table.push(&k, &Word(format!("w{k}"))).expect("push");
    }
    table.push(&5, &Word("w5".into())).expect("push again");
    assert_eq!(table.rows(), 101);
    assert_eq!(table.ingest(&store).expect("ingest"), 100);
    assert!(!dir.path().join("staging").join("words").exists());
    let mut keys = Vec::new();
    store
        .for_each::<Words, StoreError>(|k, v| {
            assert_eq!(v.0, format!("w{k}"));
            keys.push(k);
            Ok(())
        })
        .expect("walk");
    assert_eq!(keys, (0..100).collect::<Vec<_>>());
}
