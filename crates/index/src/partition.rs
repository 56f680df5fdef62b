//! How an index is split into partitions (issue 17), one rule for the
//! builder, the digest and the router.
//!
//! Every row belongs to one of 256 *chunks*: URL-side rows (`urls`, and
//! `captures` as their owners) by a hash of the registered domain of their
//! SURT key, so every capture of a site — exact, prefix, host and domain
//! lookups below a registered domain — lands in one chunk; content-side rows
//! by the first byte of their `content_id`, so a partition holds a contiguous
//! `content_id` range. A partitioning of `count` partitions (a power of two,
//! at most 256) gives partition `p` the chunks `[p·256/count, (p+1)·256/count)`.
//! Chunks, not partitions, are the unit of the digest, so the digest does not
//! depend on the partition count.
//!
//! A partition also holds *copies* so that every query routed to it is
//! answered there: the capture records of its contents' captures (LookupContent,
//! FindWork, CheckOptOut by content). Copies are not owned: the digest and the
//! counts skip them. The signature of a content held elsewhere is not copied:
//! CheckOptOut by URL asks the registry service, which matches work entries,
//! to read it from its own index (`signature_from_index`).

use std::ops::Range;

/// Chunks of the key space; a partition count divides it.
pub const CHUNKS: u32 = 256;

/// The largest partition count.
pub const MAX_PARTITIONS: u32 = CHUNKS;

/// `count` partitions over [`CHUNKS`] chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partitioning {
    count: u32,
}

impl Partitioning {
    /// One partition: the whole index.
    pub const WHOLE: Partitioning = Partitioning { count: 1 };

    /// `count` must be a power of two in `1..=256`, so chunks split evenly.
    pub fn new(count: u32) -> Result<Self, String> {
        if count == 0 || count > MAX_PARTITIONS || !count.is_power_of_two() {
            return Err(format!(
                "partitions must be a power of two from 1 to {MAX_PARTITIONS}, got {count}"
            ));
        }
        Ok(Self { count })
    }

    pub fn count(self) -> u32 {
        self.count
    }

    /// The partition holding `chunk`.
    pub fn of_chunk(self, chunk: u8) -> u32 {
        u32::from(chunk) * self.count / CHUNKS
    }

    /// The chunks of partition `p`.
    pub fn chunks(self, p: u32) -> Range<u32> {
        let width = CHUNKS / self.count;
        p * width..(p + 1) * width
    }

    pub fn of_url(self, surt: &str) -> Option<u32> {
        url_chunk(surt).map(|c| self.of_chunk(c))
    }

    pub fn of_content(self, content_id: u128) -> u32 {
        self.of_chunk(content_chunk(content_id))
    }

    /// The partition owning a capture: its URL's, or by its id when it has
    /// no SURT key (then it is found by id only).
    pub fn of_capture(self, capture_id: u128, surt: &str) -> u32 {
        self.of_chunk(capture_chunk(capture_id, surt))
    }
}

/// The chunk of a content id: its first byte.
pub fn content_chunk(content_id: u128) -> u8 {
    (content_id >> 120) as u8
}

/// The chunk of a SURT key (`com,example,www)/path`): the first byte of the
/// xxh3 hash of its host's registered domain, or of the host itself when it
/// has none (IP addresses, single labels). `None` for a key without a host.
pub fn url_chunk(surt: &str) -> Option<u8> {
    let site = site_of_surt(surt)?;
    Some((xxhash_rust::xxh3::xxh3_64(site.as_bytes()) >> 56) as u8)
}

/// The site a SURT key's chunk is hashed from: the registered domain of its
/// host (`example.com`), else the host (`127.0.0.1`, `localhost`).
pub fn site_of_surt(surt: &str) -> Option<String> {
    let end = surt.find(')')?;
    let host_part = &surt[..end];
    let host_part = host_part.split(':').next().unwrap_or(host_part);
    if host_part.is_empty() {
        return None;
    }
    let host = host_part.split(',').rev().collect::<Vec<_>>().join(".");
    Some(provindex_signals::registered_domain(&host).unwrap_or(host))
}

/// The chunk a host-or-domain match query stays in: the registered domain of
/// `host`, when it has one. A public suffix (`co.uk`, `com`) has none: such a
/// domain query spans every chunk.
pub fn domain_chunk(host: &str) -> Option<u8> {
    let site = provindex_signals::registered_domain(host)?;
    Some((xxhash_rust::xxh3::xxh3_64(site.as_bytes()) >> 56) as u8)
}

/// The chunk of a capture: its URL's, else the first byte of its id.
pub fn capture_chunk(capture_id: u128, surt: &str) -> u8 {
    url_chunk(surt).unwrap_or((capture_id >> 120) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_be_powers_of_two_up_to_256() {
        for bad in [0, 3, 6, 257, 512] {
            assert!(Partitioning::new(bad).is_err(), "{bad}");
        }
        for good in [1, 2, 4, 64, 256] {
            assert_eq!(Partitioning::new(good).unwrap().count(), good);
        }
    }

    #[test]
    fn chunks_of_partitions_tile_the_chunk_space() {
        let p = Partitioning::new(4).unwrap();
        assert_eq!(p.chunks(0), 0..64);
        assert_eq!(p.chunks(3), 192..256);
        for chunk in 0..=255u8 {
            assert!(p.chunks(p.of_chunk(chunk)).contains(&u32::from(chunk)));
        }
        assert_eq!(Partitioning::WHOLE.of_chunk(255), 0);
    }

    #[test]
    fn a_site_stays_in_one_chunk_and_sites_spread() {
        let a = url_chunk("com,example,www)/a").unwrap();
        assert_eq!(url_chunk("com,example)/").unwrap(), a);
        assert_eq!(url_chunk("com,example,blog)/x?y=1").unwrap(), a);
        assert_eq!(url_chunk("com,example:8080)/").unwrap(), a);
        assert_eq!(domain_chunk("blog.example.com"), Some(a));
        assert_eq!(domain_chunk("co.uk"), None);
        assert_eq!(
            site_of_surt("uk,co,bbc,www)/news").as_deref(),
            Some("bbc.co.uk")
        );
        assert_eq!(
            site_of_surt("localhost:8080)/").as_deref(),
            Some("localhost")
        );
        assert_eq!(url_chunk("no-host"), None);
        let chunks: std::collections::HashSet<u8> = (0..200)
            .filter_map(|i| url_chunk(&format!("com,site{i})/")))
            .collect();
        assert!(chunks.len() > 100, "200 sites in {} chunks", chunks.len());
    }

    #[test]
    fn contents_partition_by_id_range() {
        let p = Partitioning::new(4).unwrap();
        assert_eq!(p.of_content(0), 0);
        assert_eq!(p.of_content(u128::MAX), 3);
        assert_eq!(p.of_content(0x40 << 120), 1);
        assert_eq!(p.of_capture(0xff << 120, ""), 3);
    }
}
