//! The subscribers file and the in-memory table built from it: who may
//! register, under which domain, and with which secret. Owns `Users` (parse,
//! load, HA1 lookup) and `UsersError`.
//!
//! # File format
//!
//! ```text
//! # whole-line comment; blank lines are ignored
//! alice example.com password=s3cret
//! bob   example.com md5=<32 hex> sha256=<64 hex> sha512-256=<64 hex>
//! carol example.org password=pw md5=<32 hex>
//! ```
//!
//! One subscriber per line, whitespace-separated: username, domain, then one
//! or more `key=value` pairs in any order, each key at most once:
//!
//! - `password=<secret>`: the clear password (no whitespace; `#` is allowed
//!   inside it since comments are whole lines only);
//! - `md5=`, `sha256=`, `sha512-256=`: a precomputed HA1 =
//!   `H(username ":" domain ":" password)` in hex (either case, 32 digits for
//!   MD5, 64 for the SHA-2 ones).
//!
//! The realm is the domain. A stored HA1 wins over the password for its
//! algorithm; an algorithm with neither (HA1-only line without that key) has
//! no HA1, and the verifier then treats the user as unknown for it.
//!
//! Errors name the file and line: missing fields, a `key=value` without `=`,
//! an unknown key, a repeated key, an empty value, a HA1 of the wrong length
//! or not hex, a `username`/`domain` that looks like `key=value`, and a
//! second line for the same `username domain` pair. Messages never echo
//! secrets.
//!
//! Lookups take the raw bytes from the Authorization header and do not
//! allocate (the map is keyed through a borrowed view of the pair).
//! Username and realm match exactly (case-sensitive), as they are hashed.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;

use super::algorithm::Algorithm;

/// A bad subscribers file: `file:line: message` (`line` 0 when the file
/// could not be read at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsersError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for UsersError {}

#[derive(Clone)]
struct Entry {
    password: Option<String>,
    /// Lowercase hex HA1 per `Algorithm::index()`.
    ha1: [Option<String>; 3],
    line: usize,
}

/// Owned key: (username, domain).
#[derive(Clone, PartialEq, Eq)]
struct Key {
    user: String,
    domain: String,
}

/// Borrowed view of a key, so lookups with `&[u8]` need no allocation.
trait KeyView {
    fn user(&self) -> &[u8];
    fn domain(&self) -> &[u8];
}

impl KeyView for Key {
    fn user(&self) -> &[u8] {
        self.user.as_bytes()
    }
    fn domain(&self) -> &[u8] {
        self.domain.as_bytes()
    }
}

impl KeyView for (&[u8], &[u8]) {
    fn user(&self) -> &[u8] {
        self.0
    }
    fn domain(&self) -> &[u8] {
        self.1
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

// `Key` and `dyn KeyView` must hash identically: both go through this.
fn hash_view<H: Hasher>(k: &dyn KeyView, state: &mut H) {
    k.user().hash(state);
    k.domain().hash(state);
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_view(self, state)
    }
}

impl Hash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_view(self, state)
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.user() == other.user() && self.domain() == other.domain()
    }
}

impl Eq for dyn KeyView + '_ {}

/// The subscribers table. Immutable once built; share it behind an `Arc`.
#[derive(Clone, Default)]
pub struct Users {
    map: HashMap<Key, Entry>,
}

impl fmt::Debug for Users {
    // Never print secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users").field("len", &self.map.len()).finish_non_exhaustive()
    }
}

impl Users {
    /// Parses a subscribers file's text; `file` is used in errors only.
    pub fn parse(text: &str, file: &str) -> Result<Users, UsersError> {
        let mut map: HashMap<Key, Entry> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |message: String| UsersError { file: file.to_string(), line, message };
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut fields = l.split_whitespace();
            let user = fields.next().unwrap_or_default();
            let Some(domain) = fields.next() else {
                return Err(err("missing fields: expected `<username> <domain> key=value...`".into()));
            };
            if user.contains('=') {
                return Err(err("missing username before key=value".into()));
            }
            if domain.contains('=') {
                return Err(err("missing domain before key=value".into()));
            }
            let mut entry = Entry { password: None, ha1: [None, None, None], line };
            let mut any = false;
            for kv in fields {
                let Some((k, v)) = kv.split_once('=') else {
                    return Err(err(format!("expected key=value, found `{}`", kv)));
                };
                if v.is_empty() {
                    return Err(err(format!("empty value for `{}`", k)));
                }
                let (slot, alg) = match k {
                    "password" => {
                        if entry.password.is_some() {
                            return Err(err("duplicate key `password`".into()));
                        }
                        entry.password = Some(v.to_string());
                        any = true;
                        continue;
                    }
                    "md5" => (0, Algorithm::Md5),
                    "sha256" => (1, Algorithm::Sha256),
                    "sha512-256" => (2, Algorithm::Sha512_256),
                    _ => {
                        return Err(err(format!("unknown key `{}` (expected password, md5, sha256 or sha512-256)", k)))
                    }
                };
                if entry.ha1[slot].is_some() {
                    return Err(err(format!("duplicate key `{}`", k)));
                }
                if v.len() != alg.hex_len() || !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(err(format!("`{}` must be {} hex digits (HA1 for {})", k, alg.hex_len(), alg.token())));
                }
                entry.ha1[slot] = Some(v.to_ascii_lowercase());
                any = true;
            }
            if !any {
                return Err(err("missing fields: expected password=... or md5=/sha256=/sha512-256=...".into()));
            }
            let key = Key { user: user.to_string(), domain: domain.to_string() };
            if let Some(first) = map.get(&key) {
                return Err(err(format!("duplicate subscriber {}@{} (first on line {})", user, domain, first.line)));
            }
            map.insert(key, entry);
        }
        Ok(Users { map })
    }

    /// Reads and parses a subscribers file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Users::parse(&text, &file),
            Err(e) => Err(UsersError { file, line: 0, message: format!("cannot read: {}", e) }),
        }
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether `username` exists in `realm` (with any secret).
    pub fn contains(&self, username: &[u8], realm: &[u8]) -> bool {
        self.map.contains_key(&(username, realm) as &dyn KeyView)
    }

    /// HA1 for `alg` as lowercase hex in the front of `out`, returning its
    /// length; computed from the password when no HA1 is stored for `alg`.
    /// `None` when the user is unknown or has no secret for `alg`.
    pub fn ha1(&self, username: &[u8], realm: &[u8], alg: Algorithm, out: &mut [u8; 64]) -> Option<usize> {
        let e = self.map.get(&(username, realm) as &dyn KeyView)?;
        if let Some(h) = &e.ha1[alg.index()] {
            out[..h.len()].copy_from_slice(h.as_bytes());
            return Some(h.len());
        }
        let pw = e.password.as_ref()?;
        Some(alg.hash_hex(&[username, realm, pw.as_bytes()], out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ha1(u: &Users, user: &str, realm: &str, alg: Algorithm) -> Option<String> {
        let mut out = [0u8; 64];
        u.ha1(user.as_bytes(), realm.as_bytes(), alg, &mut out).map(|n| String::from_utf8(out[..n].to_vec()).unwrap())
    }

    fn err(text: &str) -> UsersError {
        Users::parse(text, "subs.txt").expect_err("should be refused")
    }

    const MUFASA_MD5: &str = "939e7578ed9e3c518a452acee763bce9"; // H(Mufasa:testrealm@host.com:Circle Of Life)

    #[test]
    fn parses_passwords_hashes_comments_and_blank_lines() {
        let text = "# subscribers\n\n  \nMufasa testrealm@host.com password=Circle#Of#Life\r\n\
                    bob example.com md5=939E7578ED9E3C518A452ACEE763BCE9\n\
                    \t# indented comment\n\
                    carol example.com password=pw sha256=\
                    0000000000000000000000000000000000000000000000000000000000000000\n";
        let u = Users::parse(text, "subs.txt").unwrap();
        assert_eq!(u.len(), 3);
        assert!(!u.is_empty());
        assert!(u.contains(b"bob", b"example.com"));
        assert!(!u.contains(b"bob", b"example.org"));
        assert!(!u.contains(b"Bob", b"example.com"));
        // Password-derived HA1 equals the hashed form.
        let mut out = [0u8; 64];
        let n = Algorithm::Md5.hash_hex(&[b"Mufasa", b"testrealm@host.com", b"Circle#Of#Life"], &mut out);
        assert_eq!(ha1(&u, "Mufasa", "testrealm@host.com", Algorithm::Md5).unwrap().as_bytes(), &out[..n]);
        // Stored HA1 comes back lowercased.
        assert_eq!(ha1(&u, "bob", "example.com", Algorithm::Md5).as_deref(), Some(MUFASA_MD5));
        // HA1-only user has nothing for other algorithms.
        assert_eq!(ha1(&u, "bob", "example.com", Algorithm::Sha256), None);
        // Stored HA1 wins over the password for its algorithm; password covers the rest.
        assert_eq!(ha1(&u, "carol", "example.com", Algorithm::Sha256).unwrap(), "0".repeat(64));
        assert_eq!(ha1(&u, "carol", "example.com", Algorithm::Sha512_256).unwrap().len(), 64);
        assert_eq!(ha1(&u, "carol", "example.com", Algorithm::Md5).unwrap().len(), 32);
        assert_eq!(ha1(&u, "nobody", "example.com", Algorithm::Md5), None);
        // Debug never shows secrets.
        let dbg = format!("{:?}", u);
        assert!(!dbg.contains("Circle") && !dbg.contains("939e"), "{}", dbg);
    }

    #[test]
    fn every_error_kind_reports_its_line() {
        let ok = "amy example.com password=a\n";
        let cases: &[(&str, &str)] = &[
            ("alice\n", "missing fields"),
            ("alice example.com\n", "missing fields"),
            ("alice example.com password\n", "expected key=value"),
            ("alice example.com pin=1234\n", "unknown key `pin`"),
            ("alice example.com md5=abc\n", "32 hex digits"),
            ("alice example.com sha256=939e7578ed9e3c518a452acee763bce9\n", "64 hex digits"),
            ("alice example.com sha512-256=zz\n", "64 hex digits"),
            ("alice example.com password=\n", "empty value"),
            ("alice example.com password=a password=b\n", "duplicate key `password`"),
            (
                "alice example.com md5=939e7578ed9e3c518a452acee763bce9 md5=939e7578ed9e3c518a452acee763bce9\n",
                "duplicate key `md5`",
            ),
            ("alice password=x\n", "missing domain"),
            ("password=x example.com password=y\n", "missing username"),
        ];
        for (bad, want) in cases {
            // The bad line is line 3, after a comment and a good subscriber.
            let text = format!("# c\nzed example.com password=z\n{}{}", bad, ok);
            let e = err(&text);
            assert_eq!(e.line, 3, "{:?} -> {}", bad, e);
            assert_eq!(e.file, "subs.txt");
            assert!(e.message.contains(want), "{:?}: got {:?}, want {:?}", bad, e.message, want);
        }
    }

    #[test]
    fn sha512_wrong_length_is_caught() {
        let e = err(&format!("a b sha512-256={}\n", "f".repeat(63)));
        assert_eq!(e.line, 1);
        assert!(e.message.contains("64 hex digits"));
        let e = err(&format!("a b sha256={}g\n", "f".repeat(63)));
        assert!(e.message.contains("64 hex digits"));
    }

    #[test]
    fn duplicate_subscriber_names_both_lines_and_hides_secrets() {
        let e = err("alice example.com password=one\nbob example.com password=x\n\nalice example.com password=two\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("alice@example.com") && e.message.contains("line 1"), "{}", e.message);
        assert_eq!(e.to_string(), format!("subs.txt:4: {}", e.message));
        assert!(!e.message.contains("two") && !e.message.contains("one"));
        // Same user in another domain is a different subscriber.
        assert_eq!(Users::parse("alice a.com password=x\nalice b.com password=y\n", "f").unwrap().len(), 2);
    }

    #[test]
    fn load_reads_a_file_and_reports_missing_ones() {
        let dir = std::env::temp_dir().join(format!("sipedge-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("subscribers");
        std::fs::write(&p, "alice example.com password=x\nbroken\n").unwrap();
        let e = Users::load(&p).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), (p.display().to_string().as_str(), 2));
        std::fs::write(&p, "alice example.com password=x\n").unwrap();
        assert_eq!(Users::load(&p).unwrap().len(), 1);
        let missing = dir.join("nope");
        let e = Users::load(&missing).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.to_string().starts_with(&format!("{}: cannot read", missing.display())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
