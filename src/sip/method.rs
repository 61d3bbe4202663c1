//! Request methods (RFC 3261 §7.1 and extensions). Method names are
//! case-sensitive; anything unknown is kept as `Other(bytes)`.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Method<'a> {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Subscribe,
    Notify,
    Message,
    Info,
    Update,
    Prack,
    Refer,
    Publish,
    Other(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Case-sensitive, as RFC 3261 §7.1 requires ("invite" is an extension method).
    pub fn parse(b: &'a [u8]) -> Method<'a> {
        match b {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"MESSAGE" => Method::Message,
            b"INFO" => Method::Info,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            b"REFER" => Method::Refer,
            b"PUBLISH" => Method::Publish,
            other => Method::Other(other),
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Method::Invite => b"INVITE",
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Register => b"REGISTER",
            Method::Options => b"OPTIONS",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Notify => b"NOTIFY",
            Method::Message => b"MESSAGE",
            Method::Info => b"INFO",
            Method::Update => b"UPDATE",
            Method::Prack => b"PRACK",
            Method::Refer => b"REFER",
            Method::Publish => b"PUBLISH",
            Method::Other(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_case_sensitive() {
        assert_eq!(Method::parse(b"INVITE"), Method::Invite);
        assert_eq!(Method::parse(b"invite"), Method::Other(b"invite"));
        assert_eq!(Method::parse(b"PRACK").as_bytes(), b"PRACK");
        assert_eq!(Method::parse(b"NEWMETHOD").as_bytes(), b"NEWMETHOD");
        assert_ne!(Method::parse(b"INVITE"), Method::parse(b"ACK"));
    }
}
