//! A chunk's dictionary of one text column: each distinct value once, keyed by first appearance.
//!
//! Values are interned as they are generated, so a chunk keeps one small key per row instead of
//! a copy of the text, and the writer never hashes or compares a row's text again. Keys follow
//! the order in which values first appear, so the dictionary (and the file) depends only on the
//! rows, never on hashing.
//!
//! Most texts are `&'static str` from the vocabulary or the run's text pools, handed over again
//! and again from the same address. A small direct-mapped cache from address and length to key
//! answers those with one comparison of the text against its entry; the hash table serves the
//! rest (texts built into a reused buffer: a local merchant's name, its statement line). The
//! cache is only a hint, checked against the entry's bytes, so a stale or reused address can
//! never yield a wrong key.

use hashbrown::HashTable;
use std::hash::BuildHasher;

const CACHE_BITS: u32 = 12;

pub struct Dict {
    /// The values, end to end, and where each ends.
    bytes: Vec<u8>,
    ends: Vec<u32>,
    /// Keys, found by the hash of their value.
    table: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// (address, length, key, stamp) of recently interned texts. The stamp is the dictionary's
    /// generation (bumped by [`Dict::clear`]) with [`STATIC`] set for a `'static` text.
    cache: Box<[(usize, usize, u32, u32)]>,
    generation: u32,
}

/// A cache entry's mark of a `'static` text, whose address alone names its bytes.
const STATIC: u32 = 1 << 31;

impl Default for Dict {
    fn default() -> Self {
        Dict {
            bytes: Vec::new(),
            ends: Vec::new(),
            table: HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            cache: vec![(0, usize::MAX, 0, 0); 1 << CACHE_BITS].into_boxed_slice(),
            generation: 0,
        }
    }
}

impl Dict {
    /// The key of `s`, added if new.
    #[inline]
    pub fn key(&mut self, s: &[u8]) -> u32 {
        let slot = Self::slot(s);
        let (a, len, k, _) = self.cache[slot];
        if a == s.as_ptr() as usize
            && len == s.len()
            && (k as usize) < self.ends.len()
            && self.get(k) == s
        {
            return k;
        }
        let k = self.lookup(s);
        self.cache[slot] = (s.as_ptr() as usize, s.len(), k, self.generation);
        k
    }

    /// The key of a text that lives (unchanged) for the whole run: a cache entry made for the
    /// same address and length in this generation is its key, without comparing the bytes.
    #[inline]
    pub fn key_static(&mut self, s: &'static [u8]) -> u32 {
        let slot = Self::slot(s);
        let (a, len, k, stamp) = self.cache[slot];
        if a == s.as_ptr() as usize && len == s.len() && stamp == self.generation | STATIC {
            debug_assert_eq!(self.get(k), s);
            return k;
        }
        let k = self.lookup(s);
        self.cache[slot] = (s.as_ptr() as usize, s.len(), k, self.generation | STATIC);
        k
    }

    #[inline]
    fn slot(s: &[u8]) -> usize {
        ((s.as_ptr() as usize) ^ s.len()).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (usize::BITS - CACHE_BITS)
    }

    fn lookup(&mut self, s: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(s);
        let (bytes, ends) = (&self.bytes, &self.ends);
        let entry = |k: u32| {
            let a = if k == 0 {
                0
            } else {
                ends[k as usize - 1] as usize
            };
            &bytes[a..ends[k as usize] as usize]
        };
        if let Some(&k) = self.table.find(hash, |&k| entry(k) == s) {
            return k;
        }
        let k = self.ends.len() as u32;
        self.bytes.extend_from_slice(s);
        self.ends.push(self.bytes.len() as u32);
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.table.insert_unique(hash, k, |&k| {
            let a = if k == 0 {
                0
            } else {
                ends[k as usize - 1] as usize
            };
            hasher.hash_one(&bytes[a..ends[k as usize] as usize])
        });
        k
    }

    /// The value of key `k`.
    #[inline]
    pub fn get(&self, k: u32) -> &[u8] {
        let k = k as usize;
        let a = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.bytes[a..self.ends[k] as usize]
    }

    /// The number of distinct values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Empty, keeping the memory for the next chunk. The cache may keep stale entries: each is
    /// checked against the entry's bytes before use.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.table.clear();
        self.generation = (self.generation + 1) & !STATIC;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_first_appearance_whatever_the_address() {
        let mut d = Dict::default();
        let mut buf = String::new();
        let mut keys = Vec::new();
        for s in ["b", "a", "b", "c", "a", "a"] {
            // The same buffer for every value, as generators reuse one for built texts.
            buf.clear();
            buf.push_str(s);
            keys.push(d.key(buf.as_bytes()));
            keys.push(d.key(s.as_bytes()));
        }
        assert_eq!(keys, [0, 0, 1, 1, 0, 0, 2, 2, 1, 1, 1, 1]);
        assert_eq!([d.get(0), d.get(1), d.get(2)], [b"b", b"a", b"c"]);
        d.clear();
        // Stale cache entries do not survive a clear.
        assert_eq!(d.key(b"c"), 0);
        assert_eq!(d.key(b"b"), 1);
        assert_eq!(d.len(), 2);
        // A 'static text's cached key is trusted in its generation only.
        let t: &'static [u8] = b"t";
        assert_eq!(d.key_static(t), 2);
        assert_eq!(d.key_static(t), 2);
        d.clear();
        assert_eq!(d.key(b"x"), 0);
        assert_eq!(d.key_static(t), 1);
        assert_eq!(d.key(b"t"), 1);
    }
}
