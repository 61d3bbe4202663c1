//! `sipedge users add|remove|list`: edits the subscribers file an operator
//! points `[auth] users_file` at. What is written is HA1 hashes (MD5,
//! SHA-256, SHA-512-256 of `user:domain:password`), never the password; the
//! format and its parser belong to `core::auth::users`, and every edit is
//! parsed by it before it is written, so the tool cannot leave a file the
//! edge would refuse. Comments and other subscribers' lines are kept as
//! they are. The file is replaced atomically (written beside it, then
//! renamed), keeping the old file's owner, group and mode (the Debian
//! package makes it root:sipedge 0640 so the edge's user can read it); a
//! new file is 0600: HA1s are password equivalents for their realm.

use crate::core::auth::{Algorithm, Users};
use std::io::Write;
use std::path::Path;

/// One subscriber as `list` shows it: never a secret, only what kinds of
/// secret the line holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Listed {
    pub user: String,
    pub domain: String,
    /// `password`, `md5`, `sha256`, `sha512-256`: the keys on the line.
    pub kinds: Vec<String>,
}

/// The subscriber line for `user` at `domain` with every HA1.
pub fn ha1_line(user: &str, domain: &str, password: &str) -> String {
    let mut line = format!("{user} {domain}");
    for (key, alg) in [("md5", Algorithm::Md5), ("sha256", Algorithm::Sha256), ("sha512-256", Algorithm::Sha512_256)] {
        let mut hex = [0u8; 64];
        let n = alg.hash_hex(&[user.as_bytes(), domain.as_bytes(), password.as_bytes()], &mut hex);
        line.push_str(&format!(" {key}={}", std::str::from_utf8(&hex[..n]).unwrap_or_default()));
    }
    line
}

/// A username or domain the file format can hold: not empty, no
/// whitespace, no `=`, no leading `#`.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.starts_with('#') || name.contains('=') || name.chars().any(char::is_whitespace) {
        return Err(format!("bad {what} `{name}`: no spaces, `=` or leading `#`"));
    }
    Ok(())
}

/// `text` with the line of `user domain` replaced by `line` (or `line`
/// appended); true when it replaced one.
pub fn upsert(text: &str, user: &str, domain: &str, line: &str) -> (String, bool) {
    let mut found = false;
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    for l in text.lines() {
        if names(l) == Some((user, domain)) {
            if !found {
                out.push_str(line);
                out.push('\n');
            }
            found = true;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !found {
        out.push_str(line);
        out.push('\n');
    }
    (out, found)
}

/// `text` without the line of `user domain`; None when there is none.
pub fn remove(text: &str, user: &str, domain: &str) -> Option<String> {
    let kept: Vec<&str> = text.lines().filter(|l| names(l) != Some((user, domain))).collect();
    if kept.len() == text.lines().count() {
        return None;
    }
    Some(kept.iter().map(|l| format!("{l}\n")).collect())
}

/// Every subscriber line of `text`, in file order.
pub fn list(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|l| {
            let (user, domain) = names(l)?;
            let kinds =
                l.split_whitespace().skip(2).filter_map(|kv| kv.split_once('=')).map(|(k, _)| k.to_string()).collect();
            Some(Listed { user: user.into(), domain: domain.into(), kinds })
        })
        .collect()
}

/// The username and domain of a subscriber line (None for comments and blanks).
fn names(line: &str) -> Option<(&str, &str)> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') {
        return None;
    }
    let mut f = l.split_whitespace();
    Some((f.next()?, f.next()?))
}

/// Reads the file; a missing one is empty (the first `add` creates it).
pub fn read(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

/// Checks `text` with the edge's own parser, then replaces the file with it
/// atomically: the old file's owner, group and mode, or 0600 for a new one.
pub fn write(path: &Path, text: &str) -> Result<usize, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let users = Users::parse(text, &path.display().to_string()).map_err(|e| e.to_string())?;
    let old = std::fs::metadata(path).ok();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        if let Some(old) = &old {
            std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid()))?;
            f.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: cannot write: {e}", path.display()));
    }
    Ok(users.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_ha1s_that_the_edge_accepts_and_no_password() {
        let line = ha1_line("alice", "example.com", "s3cret");
        assert!(!line.contains("s3cret"), "{line}");
        let users = Users::parse(&line, "t").unwrap();
        let mut out = [0u8; 64];
        let n = users.ha1(b"alice", b"example.com", Algorithm::Md5, &mut out).unwrap();
        // md5("alice:example.com:s3cret"), computed independently.
        let mut want = [0u8; 64];
        let m = Algorithm::Md5.hash_hex(&[b"alice:example.com:s3cret"], &mut want);
        assert_eq!(&out[..n], &want[..m]);
        assert_eq!(list(&line)[0].kinds, ["md5", "sha256", "sha512-256"]);
    }

    #[test]
    fn upsert_replaces_keeps_comments_and_others_remove_finds_the_line() {
        let text = "# ours\nbob example.com password=x\nalice example.com password=old\n";
        let (t, replaced) = upsert(text, "alice", "example.com", "alice example.com md5=00");
        assert!(replaced);
        assert_eq!(t, "# ours\nbob example.com password=x\nalice example.com md5=00\n");
        let (t2, replaced) = upsert(&t, "carol", "example.com", "carol example.com password=y");
        assert!(!replaced);
        assert!(t2.ends_with("carol example.com password=y\n"));
        assert_eq!(
            remove(&t2, "bob", "example.com").unwrap(),
            "# ours\nalice example.com md5=00\ncarol example.com password=y\n"
        );
        assert_eq!(remove(&t2, "bob", "example.org"), None);
        assert_eq!(list(&t2).iter().map(|l| l.user.as_str()).collect::<Vec<_>>(), ["bob", "alice", "carol"]);
    }

    #[test]
    fn names_the_format_cannot_hold_are_refused() {
        for bad in ["", "a b", "a=b", "#a"] {
            assert!(check_name("username", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("domain", "example.com").is_ok());
    }

    #[test]
    fn write_refuses_what_the_edge_would_refuse_and_writes_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sipedge-subscribers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users");
        assert!(write(&path, "alice example.com md5=xyz\n").unwrap_err().contains(":1:"));
        assert!(!path.exists());
        assert_eq!(write(&path, &ha1_line("alice", "example.com", "pw")), Ok(1));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(write(&path, &ha1_line("bob", "example.com", "pw")), Ok(1));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640, "the old mode is kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
