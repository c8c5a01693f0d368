//! Opaque page tokens (AIP-158): a base64url JSON cursor holding the sort key of the last item
//! returned and a fingerprint of the filters, so a token cannot be replayed with other filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Page size used when the caller sends 0.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page a caller may ask for; larger requests are clamped.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Number of items to return.
    pub size: u64,
    /// Sort key of the last item of the previous page, if any.
    pub after: Option<Vec<String>>,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Token {
    k: Vec<String>,
    f: String,
}

impl Page {
    /// Validates `page_size` and `page_token` for a list call whose filters are `filters`.
    pub fn parse(page_size: i32, page_token: &str, filters: &[&str]) -> Result<Self> {
        if page_size < 0 {
            return Err(Error::invalid("page_size", "must not be negative"));
        }
        let size = match page_size as u64 {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let fingerprint = fingerprint(filters);
        let after = if page_token.is_empty() {
            None
        } else {
            let bad = || Error::invalid("page_token", "is not a token returned by this list call");
            let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| bad())?;
            let t: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
            if t.f != fingerprint {
                return Err(Error::invalid(
                    "page_token",
                    "was issued for different filters; start again without a token",
                ));
            }
            Some(t.k)
        };
        Ok(Self {
            size,
            after,
            fingerprint,
        })
    }

    /// Number of rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Cuts the fetched rows to the page and makes the next token from the last kept row.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> Vec<String>) -> (Vec<T>, String) {
        if rows.len() as u64 > self.size {
            rows.truncate(self.size as usize);
            let next = rows.last().map(|r| self.token(key(r))).unwrap_or_default();
            (rows, next)
        } else {
            (rows, String::new())
        }
    }

    fn token(&self, k: Vec<String>) -> String {
        let t = Token {
            k,
            f: self.fingerprint.clone(),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&t).unwrap_or_default())
    }
}

#[derive(Serialize, Deserialize)]
struct StreamCursor<T> {
    s: T,
    f: String,
}

/// The opaque cursor of a resumable stream: base64url JSON of the stream's `state`, bound to the
/// request's `filters` so it cannot be replayed with other filters.
pub fn encode_cursor<T: Serialize>(state: &T, filters: &[&str]) -> String {
    let c = StreamCursor {
        s: state,
        f: fingerprint(filters),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
}

/// Reads a cursor made by [`encode_cursor`] for the same `filters`; `field` names the request
/// field in the error.
pub fn decode_cursor<T: serde::de::DeserializeOwned>(
    field: &str,
    cursor: &str,
    filters: &[&str],
) -> Result<T> {
    let bad = || Error::invalid(field, "is not a cursor returned by this call");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let c: StreamCursor<T> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if c.f != fingerprint(filters) {
        return Err(Error::invalid(
            field,
            "was issued for a request with other filters; send the same filters or start again",
        ));
    }
    Ok(c.s)
}

fn fingerprint(filters: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in filters {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bind_filters() {
        let p = Page::parse(2, "", &["agency-1"]).unwrap();
        let (rows, next) = p.finish(vec![1, 2, 3], |r| vec![r.to_string()]);
        assert_eq!(rows, vec![1, 2]);
        let p2 = Page::parse(2, &next, &["agency-1"]).unwrap();
        assert_eq!(p2.after, Some(vec!["2".to_owned()]));
        assert!(Page::parse(2, &next, &["agency-2"]).is_err());
        assert!(Page::parse(2, "garbage!", &["agency-1"]).is_err());
        assert!(Page::parse(-1, "", &[]).is_err());
        assert_eq!(Page::parse(5000, "", &[]).unwrap().size, MAX_PAGE_SIZE);
        let (rows, next) = p.finish(vec![1, 2], |r| vec![r.to_string()]);
        assert_eq!((rows.len(), next.as_str()), (2, ""));
    }

    #[test]
    fn stream_cursors_round_trip_and_bind_filters() {
        let c = encode_cursor(&(7_i64, "after".to_owned()), &["ep-1", ""]);
        let back: (i64, String) = decode_cursor("cursor", &c, &["ep-1", ""]).unwrap();
        assert_eq!(back, (7, "after".to_owned()));
        assert!(decode_cursor::<(i64, String)>("cursor", &c, &["ep-2", ""]).is_err());
        assert!(decode_cursor::<(i64, String)>("cursor", "###", &["ep-1", ""]).is_err());
        assert!(decode_cursor::<u8>("cursor", &c, &["ep-1", ""]).is_err());
    }
}
