//! Transaction matching keys: RFC 3261 §17.1.3 (client) and §17.2.3 (server).
//!
//! Owns: turning the fields that identify a transaction into an owned,
//! hashable key, so the shard's transaction table is a plain `HashMap`.
//!
//! * Client side (a response finding its client transaction): top Via
//!   branch + CSeq method. The sent-by is ours, so it is not part of the key.
//! * Server side (a request finding its server transaction): top Via branch +
//!   top Via sent-by (host, port) + method, where ACK maps to INVITE (an ACK
//!   for a non-2xx belongs to the INVITE's transaction) and CANCEL stays
//!   distinct (it is its own transaction; `cancel_target` finds the INVITE).
//!
//! Comparison: branch and method byte for byte (methods are case-sensitive,
//! §7.1; branch compared exactly as most stacks do), host ASCII-case-insensitive
//! (stored lowercased), port as written: an absent port and an explicit 5060
//! are different keys (sent-by is compared as sent, and the same client
//! always writes it the same way).
//!
//! RFC 2543 fallback (§17.2.3, second half: matching on Request-URI, To tag,
//! From tag, Call-ID, CSeq, top Via when the branch lacks the `z9hG4bK` magic
//! cookie) is NOT supported: `ServerKey::new` / `ClientKey::new` refuse such a
//! branch with `KeyError::NoMagicCookie`, and the caller handles the request
//! statelessly (or rejects it). Pre-2002 RFC 2543 peers are not expected at
//! this edge.

/// The RFC 3261 branch prefix (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Branch absent or without the `z9hG4bK` prefix (RFC 2543 peer).
    NoMagicCookie,
}

/// Method part of a key. INVITE and CANCEL (the hot ones) take no allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyMethod {
    Invite,
    Cancel,
    Other(Box<str>),
}

impl KeyMethod {
    /// Client-side mapping: the method as is (ACK never has a client
    /// transaction of its own here, but would map to `Other("ACK")`).
    fn client(method: &str) -> KeyMethod {
        match method {
            "INVITE" => KeyMethod::Invite,
            "CANCEL" => KeyMethod::Cancel,
            m => KeyMethod::Other(m.into()),
        }
    }

    /// Server-side mapping: ACK matches the INVITE transaction.
    fn server(method: &str) -> KeyMethod {
        match method {
            "ACK" => KeyMethod::Invite,
            m => KeyMethod::client(m),
        }
    }
}

impl KeyMethod {
    /// The method as written (a server key's INVITE also stands for its ACK).
    pub fn name(&self) -> &str {
        match self {
            KeyMethod::Invite => "INVITE",
            KeyMethod::Cancel => "CANCEL",
            KeyMethod::Other(m) => m,
        }
    }
}

fn check_branch(branch: &str) -> Result<(), KeyError> {
    if branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE) {
        Ok(())
    } else {
        Err(KeyError::NoMagicCookie)
    }
}

/// §17.1.3: which client transaction a response belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    branch: Box<str>,
    method: KeyMethod,
}

impl ClientKey {
    /// `branch` of the response's top Via, `cseq_method` of its CSeq (or of
    /// the request when the transaction is created).
    pub fn new(branch: &str, cseq_method: &str) -> Result<Self, KeyError> {
        check_branch(branch)?;
        Ok(ClientKey { branch: branch.into(), method: KeyMethod::client(cseq_method) })
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn method(&self) -> &KeyMethod {
        &self.method
    }
}

/// §17.2.3: which server transaction a request belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerKey {
    branch: Box<str>,
    /// sent-by host, ASCII-lowercased.
    host: Box<str>,
    /// sent-by port as written (`None`: absent).
    port: Option<u16>,
    method: KeyMethod,
}

impl ServerKey {
    /// From the request's top Via (branch, sent-by host and port) and its
    /// method (Request-Line; ACK is mapped to INVITE).
    pub fn new(branch: &str, host: &str, port: Option<u16>, method: &str) -> Result<Self, KeyError> {
        check_branch(branch)?;
        Ok(ServerKey {
            branch: branch.into(),
            host: host.to_ascii_lowercase().into(),
            port,
            method: KeyMethod::server(method),
        })
    }

    /// For a CANCEL's key, the key of the INVITE it cancels (§9.2: same
    /// branch and sent-by). `None` if this is not a CANCEL key.
    pub fn cancel_target(&self) -> Option<ServerKey> {
        (self.method == KeyMethod::Cancel).then(|| ServerKey {
            branch: self.branch.clone(),
            host: self.host.clone(),
            port: self.port,
            method: KeyMethod::Invite,
        })
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The sent-by host, lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn method(&self) -> &KeyMethod {
        &self.method
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const B: &str = "z9hG4bK776asdhds";

    #[test]
    fn ack_matches_invite_server_side() {
        let inv = ServerKey::new(B, "pc33.atlanta.com", Some(5060), "INVITE").unwrap();
        let ack = ServerKey::new(B, "pc33.atlanta.com", Some(5060), "ACK").unwrap();
        assert_eq!(inv, ack);
        let mut table = HashMap::new();
        table.insert(inv, 1);
        assert_eq!(table.get(&ack), Some(&1));
    }

    #[test]
    fn cancel_is_distinct_but_finds_its_invite() {
        let inv = ServerKey::new(B, "h", Some(5060), "INVITE").unwrap();
        let can = ServerKey::new(B, "h", Some(5060), "CANCEL").unwrap();
        assert_ne!(inv, can);
        assert_eq!(can.cancel_target(), Some(inv.clone()));
        assert_eq!(inv.cancel_target(), None);
    }

    #[test]
    fn every_field_counts() {
        let k = ServerKey::new(B, "h", Some(5060), "BYE").unwrap();
        assert_ne!(k, ServerKey::new("z9hG4bKother", "h", Some(5060), "BYE").unwrap());
        assert_ne!(k, ServerKey::new(B, "h2", Some(5060), "BYE").unwrap());
        assert_ne!(k, ServerKey::new(B, "h", Some(5070), "BYE").unwrap());
        assert_ne!(k, ServerKey::new(B, "h", None, "BYE").unwrap());
        assert_ne!(k, ServerKey::new(B, "h", Some(5060), "OPTIONS").unwrap());
        assert_ne!(k, ServerKey::new(B, "h", Some(5060), "bye").unwrap(), "methods are case-sensitive");
        assert_eq!(k, ServerKey::new(B, "H", Some(5060), "BYE").unwrap(), "host is case-insensitive");
    }

    #[test]
    fn client_key_is_branch_and_method() {
        let k = ClientKey::new(B, "INVITE").unwrap();
        assert_eq!(k, ClientKey::new(B, "INVITE").unwrap());
        assert_ne!(k, ClientKey::new(B, "CANCEL").unwrap());
        assert_ne!(k, ClientKey::new(B, "ACK").unwrap(), "no ACK->INVITE mapping client side");
        assert_eq!(k.branch(), B);
        assert_eq!(k.method(), &KeyMethod::Invite);
    }

    #[test]
    fn rfc2543_branch_refused() {
        assert_eq!(ServerKey::new("abc", "h", None, "INVITE"), Err(KeyError::NoMagicCookie));
        assert_eq!(ServerKey::new("", "h", None, "INVITE"), Err(KeyError::NoMagicCookie));
        assert_eq!(ClientKey::new("z9hG4bK", "INVITE"), Err(KeyError::NoMagicCookie));
        assert_eq!(ClientKey::new("Z9HG4BKx", "INVITE"), Err(KeyError::NoMagicCookie), "cookie is case-sensitive");
    }
}
