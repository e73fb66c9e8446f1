//! Parsed copies of cached documents. A realm representation or a client is cached as JSON
//! bytes (in Redis when deployed) and read on every token request; parsing it again each time
//! was the largest share of a client_credentials grant after the signature. A copy is found by
//! its key and used only while the cached bytes are still exactly the ones it was parsed from,
//! so it can never outlive a change: the cache stays the one source of truth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries kept at most; past it the map starts over (a burst of distinct keys cannot grow it).
const MAX_COPIES: usize = 4096;

pub struct ParsedCopies<T> {
    copies: Mutex<HashMap<String, ParsedCopy<T>>>,
}

/// A value and the bytes it was parsed from.
struct ParsedCopy<T> {
    source: Vec<u8>,
    value: Arc<T>,
}

impl<T> Default for ParsedCopies<T> {
    fn default() -> Self {
        ParsedCopies {
            copies: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> ParsedCopies<T> {
    /// The value of `bytes` (cached under `key`): the kept copy when it was parsed from the
    /// same bytes, else `parse(bytes)`, kept for next time.
    pub fn get_or_parse<E>(
        &self,
        key: &str,
        bytes: Vec<u8>,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        {
            let copies = self.copies.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(copy) = copies.get(key)
                && copy.source == bytes
            {
                return Ok(copy.value.clone());
            }
        }
        let value = Arc::new(parse(&bytes)?);
        let mut copies = self.copies.lock().unwrap_or_else(|p| p.into_inner());
        if copies.len() >= MAX_COPIES {
            copies.clear();
        }
        copies.insert(
            key.to_owned(),
            ParsedCopy {
                source: bytes,
                value: value.clone(),
            },
        );
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_number(bytes: &[u8]) -> Result<u32, String> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "not a number".to_owned())
    }

    #[test]
    fn a_copy_is_used_only_for_the_bytes_it_came_from() {
        let copies = ParsedCopies::default();
        let first = copies
            .get_or_parse("k", b"1".to_vec(), parse_number)
            .unwrap();
        let again = copies
            .get_or_parse("k", b"1".to_vec(), |_| Err("parsed twice".to_owned()))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let changed = copies
            .get_or_parse("k", b"2".to_vec(), parse_number)
            .unwrap();
        assert_eq!(*changed, 2);
        assert!(
            copies
                .get_or_parse("k", b"x".to_vec(), parse_number)
                .is_err()
        );
        // A failed parse keeps nothing: the last good copy still answers its own bytes.
        let back = copies
            .get_or_parse("k", b"2".to_vec(), |_| Err("parsed twice".to_owned()))
            .unwrap();
        assert!(Arc::ptr_eq(&changed, &back));
    }
}
