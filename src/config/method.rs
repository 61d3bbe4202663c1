//! A SIP method name as configuration spells it, shared by every table
//! that lists methods (`[protect]`, `[hep]`): an RFC 3261 token written
//! upper-case, refused with its key and line otherwise.

use serde::de::{self, Deserialize, Deserializer};

/// A SIP method name (an RFC 3261 token, written upper-case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MethodName(pub String);

impl<'de> Deserialize<'de> for MethodName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_') {
            return Err(de::Error::custom(format!("`{s}` is not a method name (upper-case, e.g. INVITE)")));
        }
        Ok(MethodName(s))
    }
}
