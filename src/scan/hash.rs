//! Streamed BLAKE3 hashing: a file is never held whole in memory.

use crate::model::ContentHash;
use std::io::Read;

/// Read size; large enough for throughput, small enough for many parallel scans.
pub(super) const BUFFER: usize = 64 * 1024;

/// Hashes everything `reader` yields, in 64 KiB reads; returns the hash and the number
/// of bytes read (which may differ from an earlier stat when a file is being written).
/// Files are opened by the caller, through a [`crate::dir_handle::DirHandle`].
pub fn hash_reader(reader: &mut impl Read) -> std::io::Result<(ContentHash, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((ContentHash(*hasher.finalize().as_bytes()), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_hash_equals_one_shot_hash_across_buffer_boundaries() {
        let data: Vec<u8> = (0..(BUFFER * 3 + 17)).map(|i| (i % 251) as u8).collect();
        let (h, n) = hash_reader(&mut data.as_slice()).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(h, ContentHash::of_bytes(&data));
    }
}
