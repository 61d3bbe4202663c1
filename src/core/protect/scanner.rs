//! Scanner recognition by User-Agent: a case-insensitive substring match
//! against configured patterns (sipvicious, sipcli and friends announce
//! themselves; the ones that do not are left to the flood and auth bans).
//! The patterns are configuration (`protect.scanners`, whose default list
//! is in `default.toml`).

/// Does `haystack` contain `needle` (already lower-case), ignoring ASCII case?
pub fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack.windows(needle.len()).any(|w| w.iter().zip(needle).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// Patterns, lower-cased once.
#[derive(Clone, Debug, Default)]
pub struct Scanners(Vec<Vec<u8>>);

impl Scanners {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Scanners {
        Scanners(
            patterns.iter().map(|p| p.as_ref().to_ascii_lowercase().into_bytes()).filter(|p| !p.is_empty()).collect(),
        )
    }

    pub fn matches(&self, user_agent: &[u8]) -> bool {
        self.0.iter().any(|p| contains_ci(user_agent, p))
    }
}
