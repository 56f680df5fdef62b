//! The opt-out registry behind `CheckOptOut`: [`RegistryCheck`] implements the
//! [`OptOutRegistry`] seam with [`Registry::covering`] /
//! [`Registry::covering_content`], so registrations apply to answers about the
//! existing index at once, without a rebuild. It only gathers the covering
//! entries; whether they reserve is [`provindex_policy::reservation`]'s call.

use std::sync::Arc;

use provindex_index::{IndexReader, Registry};
use provindex_policy::RegistryCover;

use crate::ApiError;
use crate::checkoptout::OptOutRegistry;

/// Registry entries covering a URL or content, for `CheckOptOut`.
pub struct RegistryCheck {
    registry: Arc<Registry>,
    index: Arc<IndexReader>,
}

impl RegistryCheck {
    pub fn new(registry: Arc<Registry>, index: Arc<IndexReader>) -> Self {
        Self { registry, index }
    }
}

impl OptOutRegistry for RegistryCheck {
    fn covers_for_url(&self, url: &str, surt: &str) -> Result<Vec<RegistryCover>, ApiError> {
        crate::registry_read::url_covers(&self.registry, url, surt)
    }

    fn covers_for_content(
        &self,
        content_id: u128,
        captures: &[(&str, &str)],
    ) -> Result<Vec<RegistryCover>, ApiError> {
        // Work entries also cover near-duplicates: compare with the content's
        // stored MinHash signature (made with the index's sketch spec).
        let signature = self.index.signature(content_id)?;
        crate::registry_read::content_covers(
            &self.registry,
            content_id,
            signature.as_deref(),
            captures,
        )
    }
}
