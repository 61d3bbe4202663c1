//! The SIP wire layer: bytes in, views and bytes out. Pure — no IO, no
//! clock, no allocation on the parse path, std only.
//!
//! - [`scan`]: framing (datagram/stream, `Partial`/`Complete`), start line,
//!   header index with folding and LF-only tolerance, Content-Length, body.
//! - [`header`]: header names, compact forms, list-ness.
//! - [`method`], [`uri`], [`addr`], [`via`]: on-demand parsers of the views.
//! - [`check`]: what a server verifies before acting (400/505/416 decisions
//!   that belong to the wire; policy codes belong to the core).
//! - [`response`]: build a response by copying the request's Via/From/To/
//!   Call-ID/CSeq lines.
//! - [`edit`]: forward a message with edits, copying untouched bytes verbatim.
//! - [`header_pattern`]: header name patterns (`X-Internal-*`) for removal.
//! - [`sdp`]: codec filtering of SDP bodies against an allow-list.
//! - [`stored`]: a message kept for later, whose view cannot fail.

pub mod addr;
pub mod check;
pub mod edit;
pub mod header;
pub mod header_pattern;
pub mod method;
mod params;
pub mod response;
pub mod scan;
pub mod sdp;
pub mod stored;
pub mod uri;
pub mod via;

pub use addr::{is_star_contact, parse_name_addr, AddrError, NameAddr};
pub use check::{check_request, check_response, parse_cseq, Essentials, Invalid, Malformed, ResponseEssentials};
pub use edit::Editor;
pub use header::HeaderName;
pub use header_pattern::{HeaderPattern, HeaderPatterns};
pub use method::Method;
pub use response::write_response;
pub use scan::{
    frame_len, scan, split_list, Framing, Header, Message, ScanError, Span, StartLine, Status, Values, MAX_HEADERS,
};
pub use stored::Stored;
pub use uri::{host_name, is_host_name, parse_uri, Scheme, Uri, UriError};
pub use via::{parse_via, wants_stamp, write_stamped_via, Via, ViaError};
