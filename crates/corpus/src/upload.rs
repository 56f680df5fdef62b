//! Streaming writes of one output object (export manifests): a
//! [`std::io::Write`] that sends what it is given to a local file or an
//! object store while it is produced, and makes it visible only on
//! [`ObjectWriter::commit`].
//!
//! - **Local paths** (`/x`, `file:///x`): a scratch file beside the target
//!   (`.NAME.PID.NANOS.N.tmp`), synced, then linked (create-only: fails if
//!   the target exists) or renamed into place on commit, as
//!   [`CorpusStore::put_async`] writes.
//! - **Object stores** (`s3://`, `memory://`): the first
//!   [`UploadOptions::part_size`] bytes are held; an object that ends within
//!   them is one put (create-only: an atomic `If-None-Match: *` put). A larger
//!   one becomes a multipart upload of parts of that size
//!   (`put_multipart_opts` + `WriteMultipart`), at most
//!   [`UploadOptions::max_in_flight`] parts uploading at once. Until the
//!   upload completes the object does not exist. Create-only for a multipart
//!   object is a HEAD before completing: S3's multipart completion cannot be
//!   made conditional through object_store, so a writer racing in between
//!   those two requests is replaced.
//!
//! Memory: at most `part_size × (max_in_flight + 1)` bytes (the part being
//! filled and the parts in flight), whatever the object's size.
//!
//! [`ObjectWriter::abort`] (or dropping an uncommitted writer) removes the
//! scratch file or aborts the multipart upload: nothing appears under the
//! target name. The writer blocks on the store's runtime: use it from a plain
//! thread or `spawn_blocking`, never from an async task (tokio panics there).
//! [`exists`], [`put`] and [`delete`] are blocking helpers for the same
//! threads (the store's own blocking methods refuse `spawn_blocking` threads).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};

use crate::store::{CorpusStore, StoreError, UploadTarget, upload_scratch};

/// Default part size: 8 MiB.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// S3's smallest part (every part but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// S3's largest part.
pub const MAX_PART_SIZE: usize = 5 << 30;

/// How an [`ObjectWriter`] uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOptions {
    /// Bytes per multipart part; also the largest object written in one put.
    pub part_size: usize,
    /// Parts uploading at once (at least 1).
    pub max_in_flight: usize,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            part_size: DEFAULT_PART_SIZE,
            max_in_flight: 2,
        }
    }
}

impl UploadOptions {
    /// The options with `part_size`, refused outside S3's limits
    /// ([`MIN_PART_SIZE`]..=[`MAX_PART_SIZE`]).
    pub fn with_part_size(self, part_size: usize) -> Result<Self, String> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(format!(
                "part size {part_size} is outside S3's limits ({MIN_PART_SIZE}..={MAX_PART_SIZE} bytes)"
            ));
        }
        Ok(Self { part_size, ..self })
    }
}

/// What a committed writer wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub uri: String,
    pub bytes: u64,
    /// Parts of the multipart upload; 0 when written in one put or locally.
    pub parts: usize,
}

/// See the module documentation.
pub struct ObjectWriter {
    uri: String,
    bytes: u64,
    state: State,
}

enum State {
    Local {
        file: io::BufWriter<std::fs::File>,
        scratch: PathBuf,
        target: PathBuf,
    },
    Object {
        store: Arc<dyn ObjectStore>,
        path: ObjPath,
        handle: tokio::runtime::Handle,
        options: UploadOptions,
        /// The part being filled (at most `part_size`).
        part: Vec<u8>,
        upload: Option<WriteMultipart>,
        parts: usize,
    },
    Done,
}

const LOCAL_BUFFER: usize = 1 << 20;

impl ObjectWriter {
    /// Starts writing `uri`. A local destination gets its scratch file now, so
    /// an unwritable folder fails here ([`StoreError::Unwritable`]).
    pub fn create(
        store: &CorpusStore,
        uri: &str,
        options: UploadOptions,
    ) -> Result<Self, StoreError> {
        if options.part_size == 0 || options.max_in_flight == 0 {
            return Err(StoreError::InvalidUri {
                uri: uri.to_string(),
                reason: "upload part size and parts in flight must be positive".into(),
            });
        }
        let state = match store.upload_target(uri)? {
            UploadTarget::Local(target) => {
                let (file, scratch) = upload_scratch(&target, uri)?;
                State::Local {
                    file: io::BufWriter::with_capacity(LOCAL_BUFFER, file),
                    scratch,
                    target,
                }
            }
            UploadTarget::Object {
                store,
                path,
                handle,
            } => State::Object {
                store,
                path,
                handle,
                options,
                part: Vec::new(),
                upload: None,
                parts: 0,
            },
        };
        Ok(Self {
            uri: uri.to_string(),
            bytes: 0,
            state,
        })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn store_error(&self, source: object_store::Error) -> StoreError {
        match source {
            object_store::Error::AlreadyExists { .. } => {
                StoreError::AlreadyExists(self.uri.clone())
            }
            source => StoreError::Store {
                uri: self.uri.clone(),
                source,
            },
        }
    }

    /// Sends the full part: starts the multipart upload with the first one,
    /// and waits while `max_in_flight` parts are uploading.
    fn send_part(&mut self) -> Result<(), StoreError> {
        let State::Object {
            store,
            path,
            handle,
            options,
            part,
            upload,
            parts,
        } = &mut self.state
        else {
            return Ok(());
        };
        let data = Bytes::from(std::mem::replace(
            part,
            Vec::with_capacity(options.part_size),
        ));
        let max = options.max_in_flight;
        let result = handle.block_on(async {
            if upload.is_none() {
                let opts = PutMultipartOptions {
                    attributes: octet_stream(),
                    ..PutMultipartOptions::default()
                };
                let started = store.put_multipart_opts(path, opts).await?;
                *upload = Some(WriteMultipart::new_with_chunk_size(started, data.len()));
            }
            let writer = upload.as_mut().expect("started above");
            writer.wait_for_capacity(max).await?;
            // Exactly one part: the chunk size is the part size.
            writer.put(data);
            Ok::<_, object_store::Error>(())
        });
        *parts += 1;
        result.map_err(|e| self.store_error(e))
    }

    /// Makes the object visible under its name (see the module doc);
    /// `create_only` refuses to replace one ([`StoreError::AlreadyExists`]).
    /// On error nothing is left under the name by this writer.
    pub fn commit(mut self, create_only: bool) -> Result<Committed, StoreError> {
        let uri = self.uri.clone();
        let bytes = self.bytes;
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => Err(StoreError::Runtime(format!("{uri}: committed twice"))),
            State::Local {
                file,
                scratch,
                target,
            } => {
                let io_error = |source: io::Error| StoreError::Io {
                    uri: uri.clone(),
                    source,
                };
                let placed = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|file| file.sync_all())
                    .map_err(io_error)
                    .and_then(|()| {
                        if create_only {
                            std::fs::hard_link(&scratch, &target).map_err(|e| {
                                if e.kind() == io::ErrorKind::AlreadyExists {
                                    StoreError::AlreadyExists(uri.clone())
                                } else {
                                    io_error(e)
                                }
                            })
                        } else {
                            std::fs::rename(&scratch, &target).map_err(io_error)
                        }
                    });
                if create_only || placed.is_err() {
                    let _ = std::fs::remove_file(&scratch);
                }
                placed.map(|()| Committed {
                    uri,
                    bytes,
                    parts: 0,
                })
            }
            State::Object {
                store,
                path,
                handle,
                part,
                upload,
                parts,
                ..
            } => {
                let store_error = |source: object_store::Error| match source {
                    object_store::Error::AlreadyExists { .. } => {
                        StoreError::AlreadyExists(uri.clone())
                    }
                    source => StoreError::Store {
                        uri: uri.clone(),
                        source,
                    },
                };
                let Some(mut upload) = upload else {
                    let opts = PutOptions {
                        mode: if create_only {
                            PutMode::Create
                        } else {
                            PutMode::Overwrite
                        },
                        attributes: octet_stream(),
                        ..PutOptions::default()
                    };
                    return handle
                        .block_on(store.put_opts(&path, PutPayload::from(part), opts))
                        .map(|_| Committed {
                            uri: uri.clone(),
                            bytes,
                            parts: 0,
                        })
                        .map_err(store_error);
                };
                let last = usize::from(!part.is_empty());
                handle.block_on(async {
                    if create_only {
                        match store.head(&path).await {
                            Err(object_store::Error::NotFound { .. }) => {}
                            Ok(_) => {
                                let _ = upload.abort().await;
                                return Err(StoreError::AlreadyExists(uri.clone()));
                            }
                            Err(e) => {
                                let _ = upload.abort().await;
                                return Err(store_error(e));
                            }
                        }
                    }
                    if !part.is_empty() {
                        upload.put(Bytes::from(part));
                    }
                    // finish() aborts the upload itself when it fails.
                    upload.finish().await.map_err(store_error)?;
                    Ok(Committed {
                        uri: uri.clone(),
                        bytes,
                        parts: parts + last,
                    })
                })
            }
        }
    }

    /// Drops what was written: the scratch file is removed, the multipart
    /// upload aborted. Nothing appears under the name.
    pub fn abort(mut self) -> Result<(), StoreError> {
        self.discard()
    }

    fn discard(&mut self) -> Result<(), StoreError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => Ok(()),
            State::Local { file, scratch, .. } => {
                drop(file);
                match std::fs::remove_file(&scratch) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(StoreError::Io {
                        uri: scratch.display().to_string(),
                        source,
                    }),
                }
            }
            State::Object { handle, upload, .. } => {
                let Some(upload) = upload else { return Ok(()) };
                // Not from an async task (block_on would panic there): abort there.
                if tokio::runtime::Handle::try_current().is_ok() && tokio::task::try_id().is_some()
                {
                    handle.spawn(async move {
                        let _ = upload.abort().await;
                    });
                    return Ok(());
                }
                handle
                    .block_on(upload.abort())
                    .map_err(|source| StoreError::Store {
                        uri: self.uri.clone(),
                        source,
                    })
            }
        }
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let Err(error) = self.discard() {
            // Best effort: an aborted multipart upload that fails to abort is
            // left for the bucket's lifecycle rule.
            let _ = error;
        }
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.state {
            State::Done => {
                return Err(io::Error::other(format!("{}: already committed", self.uri)));
            }
            State::Local { file, .. } => file.write(buf)?,
            State::Object { options, part, .. } => {
                let room = options.part_size - part.len();
                let n = buf.len().min(room);
                part.extend_from_slice(&buf[..n]);
                if part.len() == options.part_size {
                    self.send_part().map_err(io::Error::other)?;
                }
                n
            }
        };
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Local { file, .. } => file.flush(),
            // Parts go out when full; the rest on commit.
            State::Object { .. } | State::Done => Ok(()),
        }
    }
}

/// Whether an object (or local file) exists at `uri`; blocking, see the
/// module doc.
pub fn exists(store: &CorpusStore, uri: &str) -> Result<bool, StoreError> {
    match store.upload_target(uri)? {
        UploadTarget::Local(path) => Ok(path.exists()),
        UploadTarget::Object {
            store: objects,
            path,
            handle,
        } => match handle.block_on(objects.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(StoreError::Store {
                uri: uri.to_string(),
                source,
            }),
        },
    }
}

/// Writes `data` whole as `uri` (one [`ObjectWriter`]); blocking.
pub fn put(
    store: &CorpusStore,
    uri: &str,
    data: &[u8],
    create_only: bool,
) -> Result<Committed, StoreError> {
    let mut writer = ObjectWriter::create(store, uri, UploadOptions::default())?;
    writer.write_all(data).map_err(|source| StoreError::Io {
        uri: uri.to_string(),
        source,
    })?;
    writer.commit(create_only)
}

/// Deletes `uri` (absent is not an error); blocking.
pub fn delete(store: &CorpusStore, uri: &str) -> Result<(), StoreError> {
    match store.upload_target(uri)? {
        UploadTarget::Local(path) => match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                uri: uri.to_string(),
                source,
            }),
        },
        UploadTarget::Object {
            store: objects,
            path,
            handle,
        } => match handle.block_on(objects.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Store {
                uri: uri.to_string(),
                source,
            }),
        },
    }
}

fn octet_stream() -> Attributes {
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, "application/octet-stream".into());
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(part_size: usize) -> UploadOptions {
        UploadOptions {
            part_size,
            max_in_flight: 2,
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn memory_objects_stream_in_parts_and_appear_on_commit() {
        let store = CorpusStore::new().expect("store");
        let uri = "memory://up/a/big.bin";
        let bytes = data(10_000);
        let mut writer = ObjectWriter::create(&store, uri, options(1024)).expect("create");
        for chunk in bytes.chunks(700) {
            writer.write_all(chunk).expect("write");
        }
        assert!(!store.exists(uri).expect("head"), "invisible before commit");
        let committed = writer.commit(true).expect("commit");
        assert_eq!(committed.bytes, 10_000);
        assert_eq!(committed.parts, 10, "9 full parts and the rest");
        assert_eq!(store.get_bytes(uri).expect("get").to_vec(), bytes);
        // Create-only refuses the second multipart writer, and a small one.
        let mut again = ObjectWriter::create(&store, uri, options(1024)).expect("create");
        again.write_all(&bytes).expect("write");
        assert!(matches!(again.commit(true), Err(StoreError::AlreadyExists(u)) if u == uri));
        let mut small = ObjectWriter::create(&store, uri, options(1024)).expect("create");
        small.write_all(b"x").expect("write");
        assert!(matches!(
            small.commit(true),
            Err(StoreError::AlreadyExists(_))
        ));
        assert_eq!(store.get_bytes(uri).expect("get").to_vec(), bytes);
        // Without create-only a small object is one put that replaces it.
        let mut small = ObjectWriter::create(&store, uri, options(1024)).expect("create");
        small.write_all(b"small").expect("write");
        let committed = small.commit(false).expect("commit");
        assert_eq!(committed.parts, 0);
        assert_eq!(store.get_bytes(uri).expect("get").as_ref(), b"small");
    }

    #[test]
    fn aborted_writers_leave_nothing() {
        let store = CorpusStore::new().expect("store");
        let uri = "memory://up/b/gone.bin";
        let mut writer = ObjectWriter::create(&store, uri, options(1024)).expect("create");
        writer.write_all(&data(5000)).expect("write");
        writer.abort().expect("abort");
        assert!(!store.exists(uri).expect("head"));

        let dir = std::env::temp_dir().join(format!("provindex-upload-{}", std::process::id()));
        let target = dir.join("m.jsonl");
        let local = target.display().to_string();
        let mut writer = ObjectWriter::create(&store, &local, options(1024)).expect("create");
        writer.write_all(b"line\n").expect("write");
        drop(writer);
        let left: Vec<_> = std::fs::read_dir(&dir)
            .expect("folder")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let mut writer = ObjectWriter::create(&store, &local, options(1024)).expect("create");
        writer.write_all(b"line\n").expect("write");
        assert!(!target.exists(), "invisible before commit");
        writer.commit(true).expect("commit");
        assert_eq!(std::fs::read(&target).expect("read"), b"line\n");
        let mut writer = ObjectWriter::create(&store, &local, options(1024)).expect("create");
        writer.write_all(b"other\n").expect("write");
        assert!(matches!(
            writer.commit(true),
            Err(StoreError::AlreadyExists(_))
        ));
        assert_eq!(std::fs::read(&target).expect("read"), b"line\n");
        assert_eq!(std::fs::read_dir(&dir).expect("folder").count(), 1);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn unwritable_folders_fail_on_create() {
        let store = CorpusStore::new().expect("store");
        match ObjectWriter::create(&store, "/proc/self/nope.jsonl", UploadOptions::default()) {
            Err(StoreError::Unwritable { uri, .. }) => assert_eq!(uri, "/proc/self/nope.jsonl"),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("/proc/self is not writable"),
        }
        assert!(UploadOptions::default().with_part_size(1024).is_err());
        assert!(
            UploadOptions::default()
                .with_part_size(MIN_PART_SIZE)
                .is_ok()
        );
    }
}
